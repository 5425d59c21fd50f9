//! The load check from the command line, until `jim-conformance load` wires it in:
//!
//! ```sh
//! cargo run --release -p jim-load --example load_check -- 127.0.0.1 7777 [--json]
//! ```
//!
//! Runs `jim_load::run` with the default (gentle) settings against HOST:PORT and prints the
//! report; exit code 0 when it passed, 1 when it did not, 3 when the target is unreachable.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let mut config = jim_load::LoadConfig::default();
    if let Some(host) = positional.first() {
        config.host = (*host).clone();
    }
    if let Some(port) = positional.get(1) {
        match port.parse() {
            Ok(p) => config.port = p,
            Err(_) => {
                eprintln!("load_check: {port:?} is not a port number");
                return ExitCode::from(2);
            }
        }
    }
    match jim_load::run(&config) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                println!("{report}");
            }
            if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("load_check: {e}");
            ExitCode::from(if matches!(e, jim_load::LoadError::Config(_)) { 2 } else { 3 })
        }
    }
}
