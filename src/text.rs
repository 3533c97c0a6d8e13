//! Client input quoted back in error messages, bounded so a huge input makes a short message.

/// At most `max` characters of `input`, with `…` when cut.
pub fn echo(input: &str, max: usize) -> String {
    let mut out: String = input.chars().take(max).collect();
    if input.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::echo;

    #[test]
    fn cuts_long_input_only() {
        assert_eq!(echo("short", 8), "short");
        assert_eq!(echo("exactly8", 8), "exactly8");
        assert_eq!(echo("ünïcödé-long", 4), "ünïc…");
    }
}
