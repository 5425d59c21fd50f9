//! What is judged: a server at an address, a command the runner starts (and restarts), or the
//! embedded reference server. The runner only ever asks a target for its address, whether it is
//! alive, and to restart; everything else goes over TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::time::Instant;

use crate::process::{SharedTail, capture, kill_group, spawn_group, tail_text};
use crate::vocab::TargetKind;

/// How to reach the target, as given on the command line.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// A server somebody else started (`--host/--port`).
    Address {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A command to start (`--spawn "CMD {port}"`): `{port}` becomes a free port, `{host}`
    /// becomes `127.0.0.1`. Run with `sh -c`.
    Spawn {
        /// The command template.
        command: String,
    },
    /// The reference server, in this process, with this configuration. Cases that need
    /// accounts run against a second instance in accounts mode with generated accounts.
    Embedded(Box<jim_server::Config>),
}

impl TargetSpec {
    /// The embedded reference server with its default (correct) configuration.
    pub fn embedded() -> Self {
        Self::Embedded(Box::default())
    }
}

/// Why a target could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A host name that does not resolve.
    #[error("cannot resolve {host}: {message}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        message: String,
    },
    /// The command could not be started, died, or never listened.
    #[error("{message}")]
    Spawn {
        /// What happened, with the command.
        message: String,
        /// The last lines it printed.
        output: String,
    },
    /// The embedded server could not start.
    #[error("cannot start the embedded reference server: {0}")]
    Embedded(String),
}

/// Credentials made up for the embedded accounts-mode server.
#[derive(Debug, Clone)]
pub struct EmbeddedAccounts {
    /// Where the accounts-mode instance listens.
    pub addr: SocketAddr,
    /// An account name.
    pub user: String,
    /// Its password.
    pub password: String,
    /// An account that never logs in (for 410).
    pub offline: String,
}

/// A started target.
#[derive(Debug)]
pub struct RunningTarget {
    spec: TargetSpec,
    addr: SocketAddr,
    child: Option<Child>,
    output: SharedTail,
    embedded: Option<jim_server::RunningServer>,
    accounts_server: Option<jim_server::RunningServer>,
    /// Credentials of the embedded accounts-mode instance, if any.
    pub accounts: Option<EmbeddedAccounts>,
    /// Things that happened to the target (restarts, exits), for the report.
    pub events: Vec<String>,
    startup: Duration,
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

impl RunningTarget {
    /// Starts (or resolves) the target. `startup` bounds how long a spawned command may take to
    /// listen.
    pub async fn start(spec: TargetSpec, startup: Duration) -> Result<Self, TargetError> {
        let mut t = Self {
            spec: spec.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
            output: Arc::default(),
            embedded: None,
            accounts_server: None,
            accounts: None,
            events: Vec::new(),
            startup,
        };
        match spec {
            TargetSpec::Address { host, port } => {
                let lookup =
                    tokio::time::timeout(startup, tokio::net::lookup_host((host.as_str(), port)));
                let result = lookup.await;
                let mut addrs = match result {
                    Ok(Ok(a)) => a,
                    Ok(Err(e)) => {
                        return Err(TargetError::Resolve {
                            host: host.clone(),
                            message: e.to_string(),
                        });
                    }
                    Err(_) => {
                        return Err(TargetError::Resolve {
                            host: host.clone(),
                            message: "timed out".into(),
                        });
                    }
                };
                t.addr = addrs.next().ok_or_else(|| TargetError::Resolve {
                    host: host.clone(),
                    message: "no address".into(),
                })?;
            }
            TargetSpec::Spawn { .. } => t.spawn().await?,
            TargetSpec::Embedded(_) => t.start_embedded().await?,
        }
        Ok(t)
    }

    async fn start_embedded(&mut self) -> Result<(), TargetError> {
        let TargetSpec::Embedded(config) = &self.spec else { return Ok(()) };
        let server = jim_server::spawn((**config).clone())
            .await
            .map_err(|e| TargetError::Embedded(e.to_string()))?;
        self.addr = server.addr();
        self.embedded = Some(server);
        if self.accounts_server.is_none() {
            let tag = format!("{:04x}", std::process::id() % 0xffff);
            let user = format!("acct_{tag}");
            let password = format!("pw-{tag}-secret");
            let offline = format!("away_{tag}");
            let accounts = jim_server::Accounts::from_pairs([
                (user.clone(), password.clone()),
                (offline.clone(), "never-used".to_owned()),
            ]);
            let cfg = jim_server::Config { accounts: Some(accounts), ..(**config).clone() };
            let server =
                jim_server::spawn(cfg).await.map_err(|e| TargetError::Embedded(e.to_string()))?;
            self.accounts = Some(EmbeddedAccounts { addr: server.addr(), user, password, offline });
            self.accounts_server = Some(server);
        }
        Ok(())
    }

    async fn spawn(&mut self) -> Result<(), TargetError> {
        let TargetSpec::Spawn { command } = &self.spec else { return Ok(()) };
        let port = free_port().map_err(|e| TargetError::Spawn {
            message: format!("no free port: {e}"),
            output: String::new(),
        })?;
        let line = command.replace("{port}", &port.to_string()).replace("{host}", "127.0.0.1");
        let mut child = spawn_group(&line, false).map_err(|e| TargetError::Spawn {
            message: format!("cannot start `{line}`: {e}"),
            output: String::new(),
        })?;
        if let Some(out) = child.stdout.take() {
            capture(out, Arc::clone(&self.output), "[out] ");
        }
        if let Some(err) = child.stderr.take() {
            capture(err, Arc::clone(&self.output), "[err] ");
        }
        self.addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.child = Some(child);
        let deadline = Instant::now() + self.startup;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    self.child = None;
                    return Err(TargetError::Spawn {
                        message: format!(
                            "`{line}` exited ({status}) before listening on port {port}"
                        ),
                        output: self.output_tail(),
                    });
                }
            }
            if let Ok(Ok(s)) = tokio::time::timeout(
                Duration::from_millis(300),
                tokio::net::TcpStream::connect(self.addr),
            )
            .await
            {
                drop(s);
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill().await;
                return Err(TargetError::Spawn {
                    message: format!(
                        "`{line}` did not listen on port {port} within {} s",
                        self.startup.as_secs()
                    ),
                    output: self.output_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where the target listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A one-line description for the summary card.
    pub fn describe(&self) -> String {
        match &self.spec {
            TargetSpec::Address { host, port } => format!("{host}:{port} ({})", self.addr),
            TargetSpec::Spawn { command } => format!("`{command}` on {}", self.addr),
            TargetSpec::Embedded(c) if c.misbehave.is_empty() => {
                format!("embedded reference server on {}", self.addr)
            }
            TargetSpec::Embedded(c) => format!(
                "embedded reference server with --misbehave {} on {}",
                c.misbehave.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(","),
                self.addr
            ),
        }
    }

    /// The kind, for the report.
    pub fn kind(&self) -> TargetKind {
        match self.spec {
            TargetSpec::Address { .. } => TargetKind::Address,
            TargetSpec::Spawn { .. } => TargetKind::Spawn,
            TargetSpec::Embedded(_) => TargetKind::Embedded,
        }
    }

    /// True when the runner can restart the target.
    pub fn can_restart(&self) -> bool {
        !matches!(self.spec, TargetSpec::Address { .. })
    }

    /// False when a spawned process exited or the embedded server stopped.
    pub fn is_alive(&mut self) -> bool {
        if let Some(child) = self.child.as_mut() {
            return matches!(child.try_wait(), Ok(None));
        }
        match &self.embedded {
            Some(s) => !s.is_finished(),
            None => !matches!(self.spec, TargetSpec::Spawn { .. }),
        }
    }

    /// The exit status of a spawned target that has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(crate::process::describe_status(status)),
            _ => None,
        }
    }

    /// The exit status of a spawned target that is exiting: waits at most `bound` for the
    /// process to end (a reap, not a guess), None if it is still running.
    pub async fn exit_status_within(&mut self, bound: Duration) -> Option<String> {
        let child = self.child.as_mut()?;
        match tokio::time::timeout(bound, child.wait()).await {
            Ok(Ok(status)) => Some(crate::process::describe_status(status)),
            _ => None,
        }
    }

    /// Stops and starts the target again (a new port for a spawned command).
    pub async fn restart(&mut self, why: &str) -> Result<(), TargetError> {
        match &self.spec {
            TargetSpec::Address { .. } => return Ok(()),
            TargetSpec::Spawn { .. } => {
                self.kill().await;
                self.spawn().await?;
            }
            TargetSpec::Embedded(_) => {
                if let Some(s) = self.embedded.take() {
                    s.shutdown().await;
                }
                self.start_embedded().await?;
            }
        }
        self.events.push(format!("restarted {why}"));
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child).await;
        }
    }

    /// Stops everything that was started.
    pub async fn stop(&mut self) {
        self.kill().await;
        if let Some(s) = self.embedded.take() {
            s.shutdown().await;
        }
        if let Some(s) = self.accounts_server.take() {
            s.shutdown().await;
        }
    }

    /// The last lines a spawned target printed.
    pub fn output_tail(&self) -> String {
        tail_text(&self.output)
    }
}
