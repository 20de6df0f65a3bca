//! The broker's resident memory, read from /proc (Linux only).

use crate::error::{BenchError, Result};

/// VmRSS of process `pid`, in kB.
pub fn rss_kb(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::Rss(format!("{path}: {e}")))?;
    parse_vmrss(&text).ok_or_else(|| BenchError::Rss(format!("{path} has no VmRSS line")))
}

fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_vmrss_line() {
        let status = "Name:\tstompede\nVmPeak:\t  9999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vmrss(status), Some(12345));
        assert_eq!(parse_vmrss("Name:\tx\n"), None);
    }

    #[test]
    fn reads_our_own_rss() {
        assert!(rss_kb(std::process::id()).unwrap() > 0);
    }
}
