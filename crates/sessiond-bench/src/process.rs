//! Servers in processes of their own (`sessiond serve`, the bench's `serve-web` apps, the
//! tower-sessions server), each started until it prints its address and stopped when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process; stopped (SIGTERM, then SIGKILL after five seconds) when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// `http://ADDR`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// CPU time the process has used so far, user and system, in seconds (Linux; `None`
    /// elsewhere).
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields 14 and 15 (utime, stime), counted after the command name's closing ')'; in
        // clock ticks of 1/100 s (USER_HZ).
        let mut f = stat.get(stat.rfind(')')? + 1..)?.split_ascii_whitespace().skip(11);
        let ticks = f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The output on which a server announces its address.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Announces {
    OnStdout,
    OnStderr,
}

/// Starts `cmd` with that output piped and reads it line by line until `addr_in` finds the
/// address in a line; the rest of the output is drained so the server never blocks on a full
/// pipe.
pub(crate) fn spawn(
    mut cmd: Command, on: Announces, addr_in: impl Fn(&str) -> Option<SocketAddr>,
) -> Result<ServerProcess, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match on {
        Announces::OnStdout => cmd.stdout(Stdio::piped()),
        Announces::OnStderr => cmd.stderr(Stdio::piped()),
    };
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {program}: {e}"))?;
    let output: Box<dyn Read + Send> = match on {
        Announces::OnStdout => Box::new(child.stdout.take().ok_or("no stdout")?),
        Announces::OnStderr => Box::new(child.stderr.take().ok_or("no stderr")?),
    };
    let mut lines = BufReader::new(output).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(addr) = addr_in(&line) {
                    break addr;
                }
            }
            end => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} exited during start-up: {end:?}"));
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(ServerProcess { child, addr })
}
