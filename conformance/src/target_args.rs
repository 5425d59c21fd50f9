//! The options that say which server to judge, shared by `server` and `load`: an address, a
//! command the runner starts, or (neither) the embedded reference server.

use clap::Args;
use jim_conformance::TargetSpec;
use jim_conformance::i18n::Said;

/// Where the target server is.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Host of a running server (an IP address or a name; 127.0.0.1 when only --port is given).
    /// Only this host is ever contacted.
    #[arg(long, conflicts_with = "spawn")]
    pub host: Option<String>,
    /// Port of a running server (default 7777 with --host).
    #[arg(long, conflicts_with = "spawn")]
    pub port: Option<u16>,
    /// Start this command, replacing {port} by a free port, and stop it at the end (the suite
    /// also restarts it when it dies and before destructive cases). Example:
    /// "python3 server.py -p {port}". Without --host, --port and --spawn: the embedded reference
    /// server.
    #[arg(long, value_name = "CMD")]
    pub spawn: Option<String>,
}

impl TargetArgs {
    /// The target options as the user would type them again (for replay commands).
    pub fn shown(&self) -> String {
        match (&self.spawn, &self.host, self.port) {
            (Some(cmd), _, _) => format!("--spawn '{}'", cmd.replace('\'', "'\\''")),
            (None, None, None) => String::new(),
            (None, host, port) => format!(
                "--host {} --port {}",
                host.as_deref().unwrap_or("127.0.0.1"),
                port.unwrap_or(jim_protocol::limits::DEFAULT_PORT)
            ),
        }
    }

    /// The target these options name, or a usage message.
    pub fn spec(&self) -> Result<TargetSpec, Said> {
        Ok(match (&self.spawn, &self.host, self.port) {
            (Some(cmd), _, _) if !cmd.contains("{port}") => {
                return Err(Said::new(
                    "--spawn needs {port} in the command, e.g. \"python3 server.py -p {port}\"",
                    "в команде --spawn нужен {port}, например \"python3 server.py -p {port}\"",
                ));
            }
            (Some(cmd), _, _) => TargetSpec::Spawn { command: cmd.clone() },
            (None, None, None) => TargetSpec::embedded(),
            (None, host, port) => TargetSpec::Address {
                host: host.clone().unwrap_or_else(|| "127.0.0.1".into()),
                port: port.unwrap_or(jim_protocol::limits::DEFAULT_PORT),
            },
        })
    }
}
