//! The scimd under test: a child process of the release binary next to this one, on a data
//! directory of its own, plain HTTP on a loopback port it picks; or an already running server
//! (`--target`). Also what /proc says about a process: peak memory and CPU time.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Conn, Request};

/// A scimd the bench started.
pub struct Server {
    child: Option<Child>,
    /// Its address.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
}

/// The scimd binary beside this one (`target/release/scimd` for `target/release/scimd-bench`).
pub fn scimd_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("scimd")))
        .unwrap_or_else(|| PathBuf::from("scimd"))
}

fn base_command(data_dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(scimd_binary());
    cmd.env("SCIMD_CONFIG", "")
        .env("SCIMD_LOG", "error")
        // The bench is the only client: limits meant for identity providers would cap it.
        .env("SCIMD_RATE_LIMIT_PER_TOKEN", "0")
        .env("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "0")
        .arg("--data-dir")
        .arg(data_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Server {
    /// Start scimd on `data_dir` with extra `SCIMD_*` settings `env`.
    pub fn start(data_dir: &Path, env: &[(String, String)]) -> std::io::Result<Self> {
        let mut s = Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_owned(),
            env: env.to_vec(),
        };
        s.launch()?;
        Ok(s)
    }

    /// (Re)start the process on the same data directory; returns when it listens.
    pub fn launch(&mut self) -> std::io::Result<()> {
        let mut cmd = base_command(&self.data_dir, &self.env);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--plain-http")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // `serve` takes its options after the subcommand; the shared ones go before it.
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("scimd listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| std::io::Error::other("scimd did not start within 120 s"))?;
        let addr = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .parse()
            .map_err(|_| std::io::Error::other(format!("cannot read the address in {url}")))?;
        self.addr = addr;
        self.child = Some(child);
        Ok(())
    }

    /// The child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Issue a token through the CLI (the running server's admin socket).
    pub fn token(&self, name: &str) -> std::io::Result<String> {
        let out = base_command(&self.data_dir, &self.env)
            .args(["token", "add", "--name", name, "--json"])
            .output()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
            std::io::Error::other(format!(
                "token add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        })?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| std::io::Error::other("token add printed no token"))
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Stop, start again, and time until `/healthz` answers 200.
    pub fn restart_to_ready(&mut self) -> std::io::Result<Duration> {
        self.stop();
        let t = Instant::now();
        self.launch()?;
        let addr = self.addr;
        crate::load::block_on(async move {
            let mut c = Conn::new(addr, None);
            loop {
                if let Ok(r) = c.send(&Request::get("/healthz".into())).await {
                    if r.status == 200 {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Ok(t.elapsed())
    }

    /// Run an offline subcommand (server stopped) on the data directory; returns its duration,
    /// peak RSS (MiB, sampled from /proc) and stdout.
    pub fn offline(&self, args: &[&str]) -> std::io::Result<(Duration, f64, String)> {
        let t = Instant::now();
        let mut child = base_command(&self.data_dir, &self.env)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let pid = child.id();
        let mut peak = 0.0f64;
        let stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut o) = stdout {
                let _ = std::io::Read::read_to_string(&mut o, &mut s);
            }
            s
        });
        loop {
            if let Some(p) = Proc::read(pid) {
                peak = peak.max(p.peak_rss_mib);
            }
            if child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = reader.join().unwrap_or_default();
        Ok((t.elapsed(), peak, out))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What /proc tells about a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Proc {
    /// Peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
}

impl Proc {
    /// Read `pid`'s figures; `None` when it is gone.
    pub fn read(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r)?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // USER_HZ is 100 on every Linux this runs on.
        Some(Self {
            peak_rss_mib: kib("VmHWM:") / 1024.0,
            cpu_secs: (ticks(11) + ticks(12)) / 100.0,
        })
    }
}

/// Total bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
