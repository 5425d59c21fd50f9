//! The loopback baseline: a raw TCP echo server and its two measurements.
//!
//! A JIM server cannot relay faster than the kernel moves small writes across loopback, so the
//! benchmark measures that limit with the same generator: one connection doing sequential
//! round trips of a payload, and one connection writing payloads back to back (one `write()`
//! each, like a chat client) with a window of payloads not yet echoed.

use crate::problem::Problem;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::LoadError;
use crate::hold::RoundTripReport;
use crate::latency::Histogram;
use crate::wire;

/// Per-connection buffer of the echo server.
const ECHO_BUFFER: usize = 16 * 1024;

/// Echoes every byte back on every accepted connection, until the listener fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; ECHO_BUFFER];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

fn payload(bytes: usize) -> Vec<u8> {
    let mut p = vec![b'x'; bytes.max(1)];
    if let Some(last) = p.last_mut() {
        *last = b'\n';
    }
    p
}

/// Sequential round trips of a `bytes`-long payload on one connection, until `max` are done or
/// `duration` is over.
pub async fn round_trips(
    addr: SocketAddr,
    bytes: usize,
    max: u64,
    duration: Duration,
    timeout: Duration,
) -> Result<RoundTripReport, LoadError> {
    let mut stream = wire::connect(addr, timeout)
        .await
        .map_err(|source| LoadError::Unreachable { addr, source })?;
    let data = payload(bytes);
    let mut buf = vec![0u8; data.len().max(ECHO_BUFFER)];
    let mut latency = Histogram::new();
    let mut problem = None;
    let started = Instant::now();
    while latency.count() < max && started.elapsed() < duration {
        let t0 = Instant::now();
        let exchange = async {
            stream.write_all(&data).await?;
            let mut got = 0;
            while got < data.len() {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the echo server closed the connection",
                    ));
                }
                got += n;
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(())) => latency.record(t0.elapsed()),
            Ok(Err(e)) => {
                problem = Some(Problem::ReadFailed(e.into()));
                break;
            }
            Err(_) => {
                problem = Some(Problem::NoResponse { within: timeout });
                break;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(RoundTripReport {
        completed: latency.count(),
        failed: u64::from(problem.is_some()),
        elapsed_secs: elapsed,
        per_sec: latency.count() as f64 / elapsed.max(1e-9),
        latency: latency.summary(),
        problem,
    })
}

/// Result of [`stream`].
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Payloads written (one `write()` each).
    pub written: u64,
    /// Payloads that came back.
    pub echoed: u64,
    /// Wall time, in seconds.
    pub elapsed_secs: f64,
    /// Echoed payloads per second.
    pub per_sec: f64,
    /// What went wrong, if anything.
    pub problem: Option<String>,
}

impl std::fmt::Display for StreamReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} {}-byte payloads echoed in {:.2} s ({:.0} writes/s)",
            self.echoed, self.written, self.payload_bytes, self.elapsed_secs, self.per_sec
        )?;
        if let Some(p) = &self.problem {
            write!(f, "\n    ! {p}")?;
        }
        Ok(())
    }
}

/// Writes `bytes`-long payloads back to back on one connection (one `write()` each), never more
/// than `window` ahead of the echoes, for `duration`. Must run inside a tokio `LocalSet`.
pub async fn stream(
    addr: SocketAddr,
    bytes: usize,
    window: usize,
    duration: Duration,
    timeout: Duration,
) -> Result<StreamReport, LoadError> {
    let stream = wire::connect(addr, timeout)
        .await
        .map_err(|source| LoadError::Unreachable { addr, source })?;
    let (mut rd, mut wr) = stream.into_split();
    let data = payload(bytes);
    let size = data.len() as u64;
    let window = Rc::new(Semaphore::new(window.max(1)));
    let echoed = Rc::new(Cell::new(0u64));
    let started = Instant::now();
    let reader = {
        let (window, echoed) = (Rc::clone(&window), Rc::clone(&echoed));
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            let mut last = started;
            while let Ok(Ok(n)) = tokio::time::timeout(timeout, rd.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                let before = total / size;
                total += n as u64;
                let after = total / size;
                last = Instant::now();
                echoed.set(after);
                window.add_permits((after - before) as usize);
            }
            last
        })
    };
    let mut written = 0u64;
    let mut problem = None;
    while started.elapsed() < duration {
        match window.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => break,
        }
        // The same write path as the traffic senders: one write() per payload.
        match crate::traffic::write_message(&mut wr, &data, timeout).await {
            Ok(Ok(())) => written += 1,
            Ok(Err(e)) => {
                problem = Some(format!("write failed: {e}"));
                break;
            }
            Err(_) => {
                problem = Some("write blocked".to_owned());
                break;
            }
        }
    }
    // Wait for the last echoes, then half-close so the reader sees the end.
    let deadline = Instant::now() + timeout;
    while echoed.get() < written && Instant::now() < deadline && !reader.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(wr);
    let last = reader.await.unwrap_or(started);
    let echoed = echoed.get();
    let elapsed = last.saturating_duration_since(started).as_secs_f64().max(1e-9);
    if echoed < written && problem.is_none() {
        problem = Some(format!("{} payloads never came back", written - echoed));
    }
    Ok(StreamReport {
        payload_bytes: size as usize,
        written,
        echoed,
        elapsed_secs: elapsed,
        per_sec: echoed as f64 / elapsed,
        problem,
    })
}
