//! `jim-echo`: the raw tokio TCP echo server the benchmark uses as the loopback baseline.
//!
//! It does nothing but echo bytes, so whatever rate it reaches is the ceiling for any JIM server
//! on the same machine. Prints `listening on ADDR` when ready, like `jim-server`.

use anyhow::Context as _;
use clap::Parser;

/// Raw TCP echo server (the loopback baseline of jim-bench).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(short = 'a', long, default_value = "127.0.0.1")]
    addr: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(short = 'p', long, default_value_t = 7878)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind((args.addr, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.addr, args.port))?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    println!("listening on {local}");
    tokio::select! {
        served = jim_load::echo::serve(listener) => served.context("accepting connections failed"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
