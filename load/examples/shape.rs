//! One benchmark shape against a server you started yourself, for profiling:
//!
//! ```sh
//! taskset -c 0 target/release/jim-server -p 7777 &
//! taskset -c 1 cargo run --release -p jim-load --example shape -- 127.0.0.1 7777 relay [SECS]
//! ```
//!
//! Shapes (the standard settings of `jim-bench`): `round-trip` (presence round trips on one
//! connection), `relay` (50 pairs, 8 in flight each, 150-byte messages), `fan-out` (a room of
//! 50 members, 5 senders, 8 in flight each); against `jim-echo`: `echo-round-trip` (150-byte
//! round trips) and `echo-stream` (back-to-back 150-byte writes, 400 in flight). SECS is how
//! long it sends (default 5). While it runs, `perf record -p PID` or `strace -c -f -p PID` on
//! the server (or on this process) says where the time goes; `jim-bench` cannot, because it
//! starts and kills its targets itself.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jim_load::hold::PresenceClient;
use jim_load::traffic::{self, TrafficOptions, TrafficShape};
use jim_load::{Names, echo};

const USAGE: &str =
    "usage: shape HOST PORT round-trip|relay|fan-out|echo-round-trip|echo-stream [SECS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(host), Some(port), Some(shape)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(addr) = format!("{host}:{port}").parse::<SocketAddr>() else {
        eprintln!("shape: {host}:{port} is not an IP address and port\n{USAGE}");
        return ExitCode::from(2);
    };
    let secs = args.get(3).and_then(|s| s.parse::<f64>().ok()).unwrap_or(5.0).clamp(0.1, 120.0);
    let duration = Duration::from_secs_f64(secs);
    let timeout = Duration::from_secs(10);
    let result = jim_load::block_on_local(async move {
        let names = Names::new("s").map_err(|e| e.to_string())?;
        let traffic = |shape| TrafficOptions {
            shape,
            window: 8,
            message_bytes: 150,
            duration,
            max_messages: u64::MAX,
            connects_in_flight: 64,
            connect_timeout: timeout,
            reply_timeout: timeout,
            names: names.clone(),
            dialect: jim_protocol::Dialect::Spec,
        };
        let text = match shape.as_str() {
            "round-trip" => {
                let mut client = PresenceClient::connect(
                    addr,
                    &names.user('p', 0),
                    jim_protocol::Dialect::Spec,
                    timeout,
                    timeout,
                )
                .await
                .map_err(|e| e.to_string())?;
                let report = client.round_trips(u64::MAX, duration).await;
                client.quit().await;
                format!("{report:?}")
            }
            "relay" | "fan-out" => {
                let shape = if shape == "relay" {
                    TrafficShape::Direct { pairs: 50 }
                } else {
                    TrafficShape::Room { members: 50, senders: 5 }
                };
                let prepared =
                    traffic::prepare(addr, traffic(shape)).await.map_err(|e| e.to_string())?;
                prepared.run().await.to_string()
            }
            "echo-round-trip" => echo::round_trips(addr, 150, u64::MAX, duration, timeout)
                .await
                .map(|r| format!("{r:?}"))
                .map_err(|e| e.to_string())?,
            "echo-stream" => echo::stream(addr, 150, 400, duration, timeout)
                .await
                .map(|r| r.to_string())
                .map_err(|e| e.to_string())?,
            other => return Err(format!("unknown shape {other:?}\n{USAGE}")),
        };
        Ok::<_, String>(text)
    });
    match result {
        Ok(Ok(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("shape: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("shape: {e}");
            ExitCode::from(1)
        }
    }
}
