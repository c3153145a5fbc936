//! Progress for long steps (compiling, SEA injection, compressing a 100 MB layer): a spinner
//! with the elapsed time on a terminal; elsewhere (pipes, CI logs) a plain line once the step
//! has run for a second and one with the elapsed time every 30 s, so a long step never looks
//! hung and a quick one adds no line to the log. Nothing with `--json`.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::report::Reporter;

/// Seconds between the "still running" lines off a terminal; STATICIZE_PROGRESS_INTERVAL
/// (seconds) overrides it.
pub(crate) const DEFAULT_INTERVAL_SECS: f64 = 30.0;

/// How long a step runs off a terminal before its "started" line is printed: most steps take
/// milliseconds, and a start line for each would double a log's length for nothing.
const QUIET_START: Duration = Duration::from_secs(1);

/// A running step; the spinner disappears (or the heartbeat stops) when this is dropped.
#[derive(Debug)]
pub(crate) struct Progress(Shown);

#[derive(Debug)]
enum Shown {
    Nothing,
    Spinner(ProgressBar),
    /// Plain lines from a thread that stops when the sender is dropped.
    Heartbeat(Option<Sender<()>>, Option<JoinHandle<()>>),
}

impl Progress {
    /// Starts showing that `message` is under way: a spinner on a terminal, plain lines
    /// elsewhere, nothing in JSON mode or with STATICIZE_NO_PROGRESS set.
    pub(crate) fn start(rep: &Reporter, message: impl Into<String>) -> Self {
        if rep.json || std::env::var_os("STATICIZE_NO_PROGRESS").is_some() {
            return Progress(Shown::Nothing);
        }
        let message = message.into();
        if !std::io::stderr().is_terminal() {
            return Progress(heartbeat(*rep, message, interval()));
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.green} {msg} ({elapsed})")
                .expect("the template is valid")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Shown::Spinner(bar))
    }

    /// Whether anything is shown (only the tests ask).
    #[cfg(test)]
    pub(crate) fn is_visible(&self) -> bool {
        !matches!(self.0, Shown::Nothing)
    }
}

/// The heartbeat interval: STATICIZE_PROGRESS_INTERVAL when it is a positive number of seconds.
fn interval() -> Duration {
    let secs = std::env::var("STATICIZE_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_INTERVAL_SECS);
    Duration::from_secs_f64(secs)
}

/// Prints the start line once the step has run for [`QUIET_START`] (nothing if it ends
/// sooner), then an elapsed-time line every `every` until stopped.
fn heartbeat(rep: Reporter, message: String, every: Duration) -> Shown {
    let (stop, stopped) = mpsc::channel::<()>();
    let started = Instant::now();
    let thread = std::thread::spawn(move || {
        if stopped.recv_timeout(QUIET_START) != Err(RecvTimeoutError::Timeout) {
            return;
        }
        rep.step("started", &message);
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            rep.step("running", format!("{message} ({})", elapsed(started.elapsed())));
        }
    });
    Shown::Heartbeat(Some(stop), Some(thread))
}

/// "45s", "2m05s", "1h02m03s".
pub(crate) fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        match &mut self.0 {
            Shown::Nothing => {}
            Shown::Spinner(bar) => bar.finish_and_clear(),
            Shown::Heartbeat(stop, thread) => {
                // Dropping the sender wakes the thread at once; joining keeps its last line
                // before the step's own summary.
                drop(stop.take());
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// What a driver (or any long domain step) may tell the user: step lines, warnings and a
/// spinner. Results and JSON stay with the command that prints them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps<'a>(&'a Reporter);

impl<'a> Steps<'a> {
    /// Steps printed through `rep`.
    pub(crate) fn new(rep: &'a Reporter) -> Self {
        Steps(rep)
    }

    /// One step: a short verb and what happened.
    pub(crate) fn step(&self, verb: &str, text: impl AsRef<str>) {
        self.0.step(verb, text);
    }

    /// A warning the user should read.
    pub(crate) fn warn(&self, text: impl AsRef<str>) {
        self.0.warn(text);
    }

    /// The reporter behind these steps, for domain steps that print their own (library builds).
    pub(crate) fn reporter(&self) -> &'a Reporter {
        self.0
    }

    /// A spinner for a long step, gone when the returned value is dropped.
    pub(crate) fn spinner(&self, message: impl Into<String>) -> Progress {
        Progress::start(self.0, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_in_json_mode() {
        assert!(!Progress::start(&Reporter::new(true), "x").is_visible());
    }

    #[test]
    fn elapsed_times_read_well() {
        assert_eq!(elapsed(Duration::from_secs(45)), "45s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m05s");
        assert_eq!(elapsed(Duration::from_secs(3723)), "1h02m03s");
    }
}
