fn main() {
    let store = kbinspect::trust::chain::RootStore::microsoft();
    for p in std::env::args().skip(1) {
        let b = std::fs::read(&p).unwrap();
        let (r, ctl) = kbinspect::trust::verify_bytes(&b, &p, &store, kbinspect::trust::now());
        let probs: Vec<String> = r
            .all_problems()
            .iter()
            .map(|p| format!("{}: {}", p.code, p.detail))
            .collect();
        println!(
            "{} {} {:?} {:?} ts={:?} chain={:?} nested={} ctl={:?} {:?}",
            r.result,
            p,
            r.digest_alg,
            r.computed_digest,
            r.timestamp.as_ref().and_then(|t| t.time.clone()),
            r.chain.as_ref().map(|c| &c.certs),
            r.nested.len(),
            ctl.map(|c| c.entries.len()),
            probs
        );
    }
}
