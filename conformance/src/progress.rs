//! A progress line for runs that take more than a couple of seconds: drawn on standard error,
//! only when standard error is a terminal, and only after two seconds, so that quick runs,
//! pipes, files and CI logs never see it. Case lines are printed above it.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before the bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(2);

/// The bar of a server or client run: counts finished cases.
pub struct CaseBar {
    bar: ProgressBar,
    shower: Option<tokio::task::JoinHandle<()>>,
}

impl CaseBar {
    /// A hidden bar that shows itself after [`SHOW_AFTER`] if standard error is a terminal.
    pub fn start() -> Self {
        Self::start_with(None, "{spinner} {pos} case(s) judged · {elapsed}")
    }

    /// A bar of `len` steps (None: a counter) with an indicatif template.
    pub fn start_with(len: Option<u64>, template: &str) -> Self {
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        let shower =
            (std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()).then(|| {
                let bar = bar.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(SHOW_AFTER).await;
                    if !bar.is_finished() {
                        bar.set_draw_target(ProgressDrawTarget::stderr());
                        bar.enable_steady_tick(Duration::from_millis(200));
                    }
                })
            });
        Self { bar, shower }
    }

    /// One more case: prints with the bar out of the way, then counts it.
    pub fn case_done(&self, print: impl FnOnce()) {
        self.bar.suspend(print);
        self.bar.inc(1);
    }

    /// Sets the message after the counter.
    pub fn message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(s) = &self.shower {
            s.abort();
        }
        self.bar.finish_and_clear();
    }
}
