use super::*;

/// The value of `name{labels}` in a fresh scrape, `None` if the series is absent.
fn value(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus::Encoder;
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&m.gather(), &mut out)
        .expect("encode");
    let text = String::from_utf8(out).expect("utf-8");
    let mut want: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    want.sort();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, v) = line.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            let mut got: Vec<String> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            got.sort();
            (n == name && got == want).then(|| v.parse().ok())?
        })
}

fn published(m: &Metrics, dest: &str, kind: &str) -> Option<f64> {
    value(
        m,
        "stompede_destination_messages_published_total",
        &[("destination", dest), ("kind", kind)],
    )
}

fn gauge(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(m, name, labels).unwrap_or_else(|| panic!("{name}{labels:?} missing"))
}

#[test]
fn command_discriminants_index_all() {
    for (i, c) in Command::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i, "{c:?}");
    }
    let m = Metrics::new(1).expect("metrics");
    m.frame_received(Command::Send).inc();
    m.frame_sent(Command::Message).inc_by(2);
    let sends = value(&m, "stompede_frames_received_total", &[("command", "SEND")]);
    let msgs = value(&m, "stompede_frames_sent_total", &[("command", "MESSAGE")]);
    assert_eq!((sends, msgs), (Some(1.0), Some(2.0)));
}

#[test]
fn cap_and_patterns_choose_own_series_and_fold_the_rest() {
    let m = Metrics::with_selection(
        2,
        Selection::new(&["/queue/*".into()], &["/queue/tmp.*".into()]),
    )
    .expect("metrics");
    let a = m.destination("/queue/a", "queue");
    let tmp = m.destination("/queue/tmp.1", "queue");
    let topic = m.destination("/topic/x", "topic");
    let b = m.destination("/queue/b", "queue");
    let c = m.destination("/queue/c", "queue");
    assert_eq!(
        (a.own, tmp.own, topic.own, b.own, c.own),
        (true, false, false, true, false)
    );
    for h in [&a, &tmp, &topic, &b, &c] {
        h.published.inc();
        h.ready.add(2);
    }
    assert_eq!(published(&m, "/queue/a", "queue"), Some(1.0));
    assert_eq!(published(&m, "/queue/b", "queue"), Some(1.0));
    assert_eq!(published(&m, "/queue/c", "queue"), None);
    assert_eq!(published(&m, "/queue/tmp.1", "queue"), None);
    assert_eq!(published(&m, OTHER, "queue"), Some(2.0));
    assert_eq!(published(&m, OTHER, "topic"), Some(1.0));
    let ready = |d: &str, k: &str| {
        gauge(
            &m,
            "stompede_destination_messages_ready",
            &[("destination", d), ("kind", k)],
        )
    };
    assert_eq!(ready(OTHER, "queue"), 4.0);
    assert_eq!(gauge(&m, "stompede_destinations_folded", &[]), 3.0);
    assert_eq!(
        gauge(&m, "stompede_destinations", &[("kind", "queue")]),
        4.0
    );
    assert_eq!(
        gauge(&m, "stompede_destinations", &[("kind", "topic")]),
        1.0
    );

    // A folded destination going away: its gauge deltas must be undone by its
    // actor (as queues do), the fold count drops.
    c.ready.sub(2);
    drop(c);
    assert_eq!(gauge(&m, "stompede_destinations_folded", &[]), 2.0);
    assert_eq!(ready(OTHER, "queue"), 2.0);

    // An own destination going away frees its slot and removes its series.
    drop(a);
    assert_eq!(published(&m, "/queue/a", "queue"), None);
    assert!(value(
        &m,
        "stompede_destination_messages_ready",
        &[("destination", "/queue/a"), ("kind", "queue")]
    )
    .is_none());
    let d = m.destination("/queue/d", "queue");
    assert!(
        d.own,
        "the freed slot goes to the next admitted destination"
    );
    assert_eq!(
        gauge(&m, "stompede_destinations", &[("kind", "queue")]),
        3.0
    );
    drop((tmp, topic, b, d));
    assert_eq!(gauge(&m, "stompede_destinations_folded", &[]), 0.0);
    assert_eq!(
        gauge(&m, "stompede_destinations", &[("kind", "queue")]),
        0.0
    );
}

#[test]
fn series_survive_until_the_last_instance_of_a_name_is_gone() {
    let m = Metrics::new(10).expect("metrics");
    let old = m.destination("/queue/a", "queue");
    let new = m.destination("/queue/a", "queue");
    old.published.inc();
    new.published.inc();
    let clone = new.clone();
    drop(old);
    assert_eq!(published(&m, "/queue/a", "queue"), Some(2.0));
    drop(new);
    assert_eq!(
        published(&m, "/queue/a", "queue"),
        Some(2.0),
        "a clone still holds the handles"
    );
    drop(clone);
    assert_eq!(published(&m, "/queue/a", "queue"), None);
    // Same name, other kind: a separate slot.
    let q = m.destination("/x", "queue");
    let t = m.destination("/x", "topic");
    assert!(q.own && t.own);
}

#[test]
fn zero_cap_folds_everything() {
    let m = Metrics::new(0).expect("metrics");
    let a = m.destination("/queue/a", "queue");
    assert!(!a.own);
    a.published.inc();
    assert_eq!(published(&m, OTHER, "queue"), Some(1.0));
    assert_eq!(published(&m, "/queue/a", "queue"), None);
}

#[test]
fn known_label_values_start_at_zero() {
    let off = MetricsSettings {
        max_destinations: 1,
        include: vec![],
        exclude: vec![],
        enabled: false,
    };
    // With counting off too: the families stay, at zero.
    for m in [
        Metrics::new(1).expect("metrics"),
        Metrics::from_settings(&off).expect("metrics"),
    ] {
        known_series_are_zero(&m);
    }
}

fn known_series_are_zero(m: &Metrics) {
    for r in crate::protocol::ErrorReason::ALL {
        assert_eq!(
            value(m, "stompede_errors_total", &[("reason", r.label())]),
            Some(0.0),
            "{r:?}"
        );
    }
    for c in Command::ALL {
        for family in [
            "stompede_frames_received_total",
            "stompede_frames_sent_total",
        ] {
            let v = value(m, family, &[("command", c.as_str())]);
            assert_eq!(v, Some(0.0), "{family} {c:?}");
        }
    }
    for t in crate::model::Transport::ALL {
        for v in crate::protocol::Version::SUPPORTED {
            let labels = [("transport", t.label()), ("version", v.as_str())];
            assert_eq!(value(m, "stompede_connections", &labels), Some(0.0));
        }
    }
    for k in ["queue", "topic"] {
        assert_eq!(published(m, OTHER, k), Some(0.0), "{k}");
        assert_eq!(
            value(
                m,
                "stompede_destination_delivery_latency_seconds_count",
                &[("destination", OTHER), ("kind", k)]
            ),
            Some(0.0)
        );
    }
    for k in RESTARTABLE {
        assert_eq!(
            value(m, "stompede_actor_restarts_total", &[("kind", k)]),
            Some(0.0)
        );
    }
    for o in TX_OUTCOMES {
        assert_eq!(
            value(m, "stompede_transactions_total", &[("outcome", o)]),
            Some(0.0)
        );
    }
}

#[test]
fn build_info_is_one_with_the_package_version() {
    let m = Metrics::new(1).expect("metrics");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let labels = [("version", env!("CARGO_PKG_VERSION")), ("profile", profile)];
    assert_eq!(value(&m, "stompede_build_info", &labels), Some(1.0));
}

#[cfg(target_os = "linux")]
#[test]
fn process_metrics_keep_their_conventional_names() {
    let m = Metrics::new(1).expect("metrics");
    let names: Vec<String> = m.gather().iter().map(|f| f.name().to_string()).collect();
    for want in [
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_start_time_seconds",
        "process_threads",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("stompede_") || n.starts_with("process_")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("stompede_process_")));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "gather() merges in name order");
}

#[test]
fn settings_patterns_are_used() {
    let s = MetricsSettings {
        max_destinations: 5,
        include: vec!["/topic/*".into()],
        exclude: vec![],
        enabled: true,
    };
    let m = Metrics::from_settings(&s).expect("metrics");
    assert!(!m.destination("/queue/a", "queue").own);
    assert!(m.destination("/topic/a", "topic").own);
}

#[test]
fn a_metric_that_cannot_register_is_an_error_naming_it() {
    let r = Registry::new();
    counter(&r, "twice_total", "Registered twice.", &[]).expect("first registration");
    let e = counter(&r, "twice_total", "Registered twice.", &[]).expect_err("a clash");
    assert_eq!(e.name, "twice_total");
    assert!(e.to_string().contains("twice_total"), "{e}");
}
