//! A proxy of the tests' own in front of the loopback AWS server, on a port of its own:
//! `tcp_proxy.py` forwards bytes (stopping it is an outage), `fault_proxy.py` also fails chosen
//! Firehose and Kinesis records.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Proxy {
    script: &'static str,
    pub port: u16,
    child: Option<Child>,
}

impl Proxy {
    /// Starts `tests/tools/<script>` in front of the test server.
    pub fn new(script: &'static str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut proxy = Self { script, port, child: None };
        proxy.start();
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port.
    pub fn start(&mut self) {
        let endpoint = super::s3::endpoint();
        let target = match self.script {
            "tcp_proxy.py" => endpoint.rsplit(':').next().unwrap().trim_end_matches('/').to_owned(),
            _ => endpoint,
        };
        let python = std::env::var("TUNESTREAM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(python)
            .arg(super::repo().join("tests/tools").join(self.script))
            .args([&self.port.to_string(), &target])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "listening");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}
