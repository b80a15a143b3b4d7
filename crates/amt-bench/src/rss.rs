//! Resident memory of this process, from `/proc/self/status` (Linux).

/// `VmRSS` (resident now) in KiB.
pub fn current_kib() -> Option<u64> {
    field_kib("VmRSS:")
}

/// `VmHWM` (peak resident) in KiB.
pub fn peak_kib() -> Option<u64> {
    field_kib("VmHWM:")
}

fn field_kib(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_field_kib(&status, name)
}

fn parse_field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    let mut parts = line[name.len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let s = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t    2345 kB\n";
        assert_eq!(parse_field_kib(s, "VmHWM:"), Some(12345));
        assert_eq!(parse_field_kib(s, "VmRSS:"), Some(2345));
        assert_eq!(parse_field_kib(s, "VmSwap:"), None);
    }

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            let now = current_kib().unwrap();
            let peak = peak_kib().unwrap();
            assert!(now > 0 && peak >= now);
        }
    }
}
