//! Pull jobs: what to fetch, how often, and what one pull of each costs in requests.

use serde::{Deserialize, Serialize};

/// One configured job (`[[jobs]]` in the config). Every job has its own interval, like a rate rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobConfig {
    /// Playlists by id: the playlist object, then its entries, skipped while the snapshot is unchanged.
    Playlists { ids: Vec<String>, every_secs: u64 },
    /// Every playlist the user owns (needs `tunestream auth login`).
    UserPlaylists { user: String, every_secs: u64 },
    /// Artists by id, and their albums unless `albums = false`.
    Artists {
        ids: Vec<String>,
        #[serde(default = "yes")]
        albums: bool,
        every_secs: u64,
    },
    /// The user's recently played tracks, from a persisted cursor.
    RecentlyPlayed { user: String, every_secs: u64 },
    /// Search queries; `types` defaults to `["track"]`.
    Search {
        queries: Vec<String>,
        #[serde(default = "track_type")]
        types: Vec<String>,
        every_secs: u64,
    },
    /// The artists the user follows.
    FollowedArtists { user: String, every_secs: u64 },
}

fn yes() -> bool {
    true
}
fn track_type() -> Vec<String> {
    vec!["track".into()]
}

/// Pages assumed per playlist read when planning: Spotify serves 50 entries a page.
pub const PLANNED_PAGES_PER_PLAYLIST: u64 = 3;
/// Albums assumed per artist when planning an `artists` job: Spotify serves 10 a page since
/// February 2026, so 25 albums cost 3 pages.
pub const PLANNED_ALBUMS_PER_ARTIST: u64 = 25;
/// Playlists assumed per user when planning a `user_playlists` job.
pub const PLANNED_PLAYLISTS_PER_USER: u64 = 5;
/// Search types whose results the default queries read (`playlist` feeds `playlists`). Spotify
/// also answers `show`, `episode` and `audiobook`, and replay accepts such pages, but no query
/// reads them, so a job asking for them would spend requests on nothing.
pub const SEARCH_TYPES: [&str; 4] = ["track", "artist", "album", "playlist"];

impl JobConfig {
    pub fn every_secs(&self) -> u64 {
        match self {
            JobConfig::Playlists { every_secs, .. }
            | JobConfig::UserPlaylists { every_secs, .. }
            | JobConfig::Artists { every_secs, .. }
            | JobConfig::RecentlyPlayed { every_secs, .. }
            | JobConfig::Search { every_secs, .. }
            | JobConfig::FollowedArtists { every_secs, .. } => *every_secs,
        }
    }

    /// The user whose token the job needs, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            JobConfig::UserPlaylists { user, .. }
            | JobConfig::RecentlyPlayed { user, .. }
            | JobConfig::FollowedArtists { user, .. } => Some(user),
            _ => None,
        }
    }

    /// A short name for logs and the summary.
    pub fn label(&self) -> String {
        match self {
            JobConfig::Playlists { ids, .. } => format!("playlists({})", ids.len()),
            JobConfig::UserPlaylists { user, .. } => format!("user_playlists({user})"),
            JobConfig::Artists { ids, .. } => format!("artists({})", ids.len()),
            JobConfig::RecentlyPlayed { user, .. } => format!("recently_played({user})"),
            JobConfig::Search { queries, .. } => format!("search({})", queries.len()),
            JobConfig::FollowedArtists { user, .. } => format!("followed_artists({user})"),
        }
    }

    /// Requests one pull costs at most, under the planning assumptions above (a changed
    /// playlist costs its object, its further pages and a snapshot re-check).
    pub fn requests_per_pull(&self) -> u64 {
        let per_playlist = 1 + (PLANNED_PAGES_PER_PLAYLIST - 1) + 1;
        match self {
            JobConfig::Playlists { ids, .. } => ids.len() as u64 * per_playlist,
            JobConfig::UserPlaylists { .. } => 1 + PLANNED_PLAYLISTS_PER_USER * per_playlist,
            JobConfig::Artists { ids, albums, .. } => {
                let album_pages = PLANNED_ALBUMS_PER_ARTIST.div_ceil(super::pulls::ALBUMS_PER_PAGE);
                ids.len() as u64 * (1 + u64::from(*albums) * album_pages)
            }
            JobConfig::RecentlyPlayed { .. } | JobConfig::FollowedArtists { .. } => 1,
            JobConfig::Search { queries, .. } => queries.len() as u64,
        }
    }

    /// Requests per 24 hours at this job's interval.
    pub fn requests_per_day(&self) -> u64 {
        let pulls = 86_400u64.div_ceil(self.every_secs().max(1));
        pulls * self.requests_per_pull()
    }

    /// Problems with this job's settings, for config validation.
    pub fn problems(&self, index: usize) -> Vec<String> {
        let at = format!("jobs[{index}] ({})", self.label());
        let mut problems = Vec::new();
        if self.every_secs() == 0 {
            problems.push(format!("{at}: every_secs must be at least 1"));
        }
        match self {
            JobConfig::Playlists { ids, .. } | JobConfig::Artists { ids, .. } if ids.is_empty() => {
                problems.push(format!("{at}: ids is empty"));
            }
            JobConfig::Search { queries, types, .. } => {
                if queries.is_empty() {
                    problems.push(format!("{at}: queries is empty"));
                }
                for t in types.iter().filter(|t| !SEARCH_TYPES.contains(&t.as_str())) {
                    problems.push(format!("{at}: search type `{t}` is not one of {}", SEARCH_TYPES.join(", ")));
                }
            }
            _ => {}
        }
        if let Some(user) = self.user()
            && user.trim().is_empty()
        {
            problems.push(format!("{at}: user is empty"));
        }
        problems
    }
}

/// The plan of a set of jobs: requests per day each, and the total against the budget.
pub fn plan_table(jobs: &[JobConfig], budget: u32) -> (String, u64) {
    let mut out = String::from("job                          every     req/pull   req/day\n");
    let mut total = 0;
    for job in jobs {
        let per_day = job.requests_per_day();
        total += per_day;
        out.push_str(&format!(
            "{:<28} {:>6}s {:>10} {:>9}\n",
            job.label(),
            job.every_secs(),
            job.requests_per_pull(),
            per_day
        ));
    }
    let verdict = if total > u64::from(budget) { "OVER BUDGET" } else { "within budget" };
    out.push_str(&format!("total {total} requests/day against a budget of {budget}: {verdict}"));
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_parse_strictly_from_toml() {
        #[derive(Deserialize)]
        struct File {
            jobs: Vec<JobConfig>,
        }
        let text = r#"
            [[jobs]]
            type = "recently_played"
            user = "alice"
            every_secs = 1800
            [[jobs]]
            type = "artists"
            ids = ["a", "b"]
            every_secs = 86400
        "#;
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(
            file.jobs[1],
            JobConfig::Artists { ids: vec!["a".into(), "b".into()], albums: true, every_secs: 86400 }
        );
        let typo = "[[jobs]]\ntype = \"recently_played\"\nuser = \"a\"\nevery_secs = 1\nevry = 2\n";
        assert!(toml::from_str::<File>(typo).is_err());
    }

    #[test]
    fn the_plan_counts_requests_per_day_and_flags_an_overrun() {
        let jobs = vec![
            JobConfig::RecentlyPlayed { user: "a".into(), every_secs: 1800 },
            JobConfig::Artists { ids: vec!["x".into(); 4], albums: true, every_secs: 86400 },
        ];
        assert_eq!(jobs[0].requests_per_day(), 48);
        // Each artist: its object and 3 album pages of 10.
        assert_eq!(jobs[1].requests_per_day(), 16);
        let (table, total) = plan_table(&jobs, 50);
        assert_eq!(total, 64);
        assert!(table.contains("OVER BUDGET"), "{table}");
        assert!(plan_table(&jobs, 1000).0.contains("within budget"));
    }
}
