//! Progress for long steps (SEA injection, compressing a 100 MB layer): a spinner with the
//! elapsed time on a terminal, nothing at all otherwise (pipes, CI, `--json`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::report::Reporter;

/// A running step; the spinner disappears when this is dropped or finished.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Starts a spinner saying `message`, when stderr is a terminal and output is for people.
    pub fn start(rep: &Reporter, message: impl Into<String>) -> Self {
        if rep.json || !std::io::stderr().is_terminal() || std::env::var_os("STATICIZE_NO_PROGRESS").is_some() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.green} {msg} ({elapsed})")
                .expect("the template is valid")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Whether a spinner is shown.
    pub fn is_visible(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// What a driver (or any long domain step) may tell the user: step lines, warnings and a
/// spinner. Results and JSON stay with the command that prints them.
#[derive(Debug, Clone, Copy)]
pub struct Steps<'a>(&'a Reporter);

impl<'a> Steps<'a> {
    /// Steps printed through `rep`.
    pub fn new(rep: &'a Reporter) -> Self {
        Steps(rep)
    }

    /// One step: a short verb and what happened.
    pub fn step(&self, verb: &str, text: impl AsRef<str>) {
        self.0.step(verb, text);
    }

    /// A warning the user should read.
    pub fn warn(&self, text: impl AsRef<str>) {
        self.0.warn(text);
    }

    /// A spinner for a long step, gone when the returned value is dropped.
    pub fn spinner(&self, message: impl Into<String>) -> Progress {
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
}
