//! Parsing the command line and environment: defaults, secrets kept out of help, endpoints.

use clap::{CommandFactory, Parser};

use super::{Cli, Metrics, normalize_endpoint};

#[test]
fn help_never_shows_a_secret_taken_from_the_environment() {
    const SECRETS: [&str; 5] = [
        "DATABASE_URL",
        "CALLSIGN_MASTER_KEY",
        "CALLSIGN_PREVIOUS_MASTER_KEY",
        "CALLSIGN_PRIMARY_KEY",
        "CALLSIGN_SECONDARY_KEY",
    ];
    let command = Cli::command();
    for secret in SECRETS {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_env().is_some_and(|env| env == secret))
            .unwrap_or_else(|| panic!("no argument reads {secret}"));
        assert!(arg.is_hide_env_values_set(), "{secret}'s value would show");
    }
}

#[test]
fn metrics_are_the_ops_listeners_by_default_and_on_means_that_too() {
    let metrics = |args: &[&str]| {
        let argv = std::iter::once("callsign").chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .expect("valid arguments")
            .config
            .metrics
    };
    assert_eq!(metrics(&[]), Metrics::Ops);
    assert_eq!(metrics(&["--metrics", "on"]), Metrics::Ops);
    assert_eq!(metrics(&["--metrics", "public"]), Metrics::Public);
}

#[test]
fn endpoints() {
    assert_eq!(
        normalize_endpoint("https://a.example:8443").unwrap(),
        "https://a.example:8443/"
    );
    assert_eq!(
        normalize_endpoint("http://[::1]:80/").unwrap(),
        "http://[::1]:80/"
    );
    for bad in [
        "ftp://x",
        "https://",
        "https://a/b",
        "https://a?x=1",
        "https://a~b",
        "a.example",
    ] {
        assert!(normalize_endpoint(bad).is_err(), "{bad}");
    }
}
