//! Durations as people read them in a summary: `0.42s`, `12.3s`, `2m03s`.

use std::time::Duration;

/// Rounded in integers: formatting a float to a precision took the slow,
/// exact path in every job's status line.
pub fn short(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    let secs = duration.as_secs();
    if secs < 10 {
        let centis = (nanos + 5_000_000) / 10_000_000;
        format!("{}.{:02}s", centis / 100, centis % 100)
    } else if secs < 60 {
        let decis = (nanos + 50_000_000) / 100_000_000;
        format!("{}.{}s", decis / 10, decis % 10)
    } else if secs < 3600 {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let whole = duration.as_secs();
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_person_writes() {
        assert_eq!(short(Duration::ZERO), "0.00s");
        assert_eq!(short(Duration::from_millis(420)), "0.42s");
        assert_eq!(short(Duration::from_micros(1_995_000)), "2.00s");
        assert_eq!(short(Duration::from_micros(9_996_000)), "10.00s");
        assert_eq!(short(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(short(Duration::from_secs(123)), "2m03s");
        assert_eq!(short(Duration::from_secs(3720)), "1h02m");
    }
}
