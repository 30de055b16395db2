//! Who must act on an error: the user, an external service, or tunestream's developers; and an
//! error's chain of causes on one line, for logs.

/// Who has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The user: fix the input, the SQL, the config or the environment, then run again.
    User,
    /// An external service failed after retries: run again once it is back.
    Service,
    /// A bug in tunestream: please report it.
    Bug,
}

impl Blame {
    /// The exit status of a run that ended with an error of this class.
    pub fn exit_code(self) -> u8 {
        match self {
            Blame::User => 2,
            // EX_TEMPFAIL: try again later.
            Blame::Service => 75,
            // EX_SOFTWARE: an internal error.
            Blame::Bug => 70,
        }
    }

    /// Who acts, in a few words, for problems listed in a summary.
    pub fn who(self) -> &'static str {
        match self {
            Blame::User => "you must act",
            Blame::Service => "the service's side; retried",
            Blame::Bug => "a bug in tunestream",
        }
    }

    /// What the person reading the error should do, in one line.
    pub fn advice(self) -> &'static str {
        match self {
            Blame::User => "Fix the input, config or SQL named above and run again.",
            Blame::Service => "An external service kept failing; run again once it is back. Nothing committed is lost.",
            Blame::Bug => "This is a bug in tunestream; please report it with the message above.",
        }
    }
}

/// `error` and its causes on one line, `: `-separated, leaving out a cause whose text the line
/// already holds (many errors repeat their source's message).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let part = error.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = error.source();
    }
    text
}
