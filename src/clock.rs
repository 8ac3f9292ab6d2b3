//! The wall clock, in the one format clip-audit writes: RFC 3339 in UTC to the second
//! (`2026-11-26T16:05:00Z`), for provenance, report stamps and review decisions.

/// The current UTC time as RFC 3339 (`2026-11-26T16:05:00Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stamp_is_rfc3339_utc_to_the_second() {
        let s = super::now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T', "{s}");
        let epoch = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH).to_string();
        assert_eq!(epoch, "1970-01-01T00:00:00Z");
    }
}
