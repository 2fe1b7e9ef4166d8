//! Durations as people read them in a summary: `0.42s`, `12.3s`, `2m03s`.

use std::time::Duration;

pub fn short(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
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
        assert_eq!(short(Duration::from_millis(420)), "0.42s");
        assert_eq!(short(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(short(Duration::from_secs(123)), "2m03s");
        assert_eq!(short(Duration::from_secs(3720)), "1h02m");
    }
}
