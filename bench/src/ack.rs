//! The broker's acknowledgement modes, as the bench names them on its
//! command line and writes them on SUBSCRIBE.

pub use stompede::model::AckMode;

/// Parses a `--ack` value (`auto`, `client`, `client-individual`), with the
/// broker's own SUBSCRIBE header parser.
pub fn parse(value: &str) -> Option<AckMode> {
    AckMode::parse(Some(value))
}

/// The SUBSCRIBE `ack` header value for `mode`: the broker only reads the
/// header, so the writing side lives here.
pub fn header_value(mode: AckMode) -> &'static str {
    match mode {
        AckMode::Auto => "auto",
        AckMode::Client => "client",
        AckMode::ClientIndividual => "client-individual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_reads_back_every_header_value_the_bench_writes() {
        for mode in [AckMode::Auto, AckMode::Client, AckMode::ClientIndividual] {
            assert_eq!(parse(header_value(mode)), Some(mode));
        }
        assert_eq!(parse("sometimes"), None);
    }
}
