//! Many deploys racing for one environment from several clones, all through
//! the same bare remote on this machine: no two may overlap, none may go
//! unrecorded, and what ends up live is the newest commit.

use crate::deploy::{assert_serial, pipeline, Done, Origin};
use serde_json::Value;
use std::time::{Duration, Instant};

const CLONES: usize = 4;
const ATTEMPTS: usize = 20;
const COMMITS: usize = 5;

#[test]
fn twenty_racing_deploys_from_four_clones() {
    let origin = Origin::new(&pipeline());
    let author = origin.clone_as("author");
    let commits: Vec<String> = (1..=COMMITS)
        .map(|n| author.commit(&format!("change {n}")))
        .collect();
    let clones: Vec<_> = (0..CLONES)
        .map(|n| origin.clone_as(&format!("machine{n}")))
        .collect();

    // Attempts start 20ms apart, oldest commits first, spread over the
    // clones: the queue builds up while older commits are still wanted, and
    // every clone competes with the others and with itself.
    let started = Instant::now();
    let children: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let clone = &clones[i % CLONES];
            let commit = &commits[i * COMMITS / ATTEMPTS];
            let child = clone.spawn(
                &["deploy", "production", "--commit", commit],
                &[("SLEEP", "0.1")],
            );
            std::thread::sleep(Duration::from_millis(20));
            (commit.clone(), child)
        })
        .collect();
    let results: Vec<(String, Done)> = children
        .into_iter()
        .map(|(commit, child)| (commit, Done::wait(child, Duration::from_secs(240))))
        .collect();
    let elapsed = started.elapsed();

    let mut deployed = Vec::new();
    for (commit, done) in &results {
        match done.code {
            Some(0) => deployed.push(commit.clone()),
            // Refused: by the time it got the lock, something newer was live.
            Some(2) => {
                done.says("is older than live");
            }
            _ => panic!(
                "unexpected ending for {commit}:\n{}\n{}",
                done.stdout, done.stderr
            ),
        }
    }

    let intervals = &origin.intervals()["production"];
    assert_serial(intervals);
    assert_eq!(
        intervals.len(),
        deployed.len(),
        "every deploy that ran reported success"
    );

    let log: Vec<Value> = clones[0].log("production");
    let succeeded: Vec<&Value> = log.iter().filter(|r| r["status"] == "succeeded").collect();
    assert_eq!(
        succeeded.len(),
        log.len(),
        "nothing failed or was abandoned: {log:?}"
    );
    assert_eq!(succeeded.len(), deployed.len(), "no lost ledger entry");
    // The ledger and the timeline name the same deploys.
    let mut ids: Vec<&str> = succeeded.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut ran: Vec<&str> = intervals.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ran.sort_unstable();
    assert_eq!(ids, ran);
    for record in &succeeded {
        let interval = intervals.iter().find(|i| record["id"] == i.id.as_str());
        assert_eq!(
            interval.map(|i| i.commit.as_str()),
            record["commit"].as_str(),
            "the ledger names the commit the steps deployed"
        );
    }
    // Live only ever moved forward, and ended on the newest commit.
    let order: Vec<usize> = succeeded
        .iter()
        .rev()
        .map(|r| {
            commits
                .iter()
                .position(|c| r["commit"] == c.as_str())
                .expect("a known commit")
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "live went backwards: {order:?}"
    );
    let newest = commits.last().expect("commits");
    assert_eq!(
        clones[3].live("production").as_deref(),
        Some(newest.as_str())
    );
    eprintln!(
        "deploy stress: {ATTEMPTS} attempts from {CLONES} clones in {elapsed:.2?}: {} deployed, {} refused as stale",
        deployed.len(),
        ATTEMPTS - deployed.len()
    );
}

/// Twenty deploys of one commit (a redeploy is allowed), racing: every one
/// must run, one at a time, and every one must be in the ledger.
#[test]
fn twenty_racing_redeploys_all_run_and_are_all_recorded() {
    let origin = Origin::new(&pipeline());
    let clones: Vec<_> = (0..CLONES)
        .map(|n| origin.clone_as(&format!("machine{n}")))
        .collect();
    let started = Instant::now();
    let children: Vec<_> = (0..ATTEMPTS)
        .map(|i| clones[i % CLONES].spawn(&["deploy", "staging"], &[("SLEEP", "0.05")]))
        .collect();
    for child in children {
        Done::wait(child, Duration::from_secs(240)).status(0);
    }
    let elapsed = started.elapsed();
    let intervals = &origin.intervals()["staging"];
    assert_eq!(intervals.len(), ATTEMPTS);
    assert_serial(intervals);
    let log = clones[1].log("staging");
    assert_eq!(log.len(), ATTEMPTS, "no lost ledger entry");
    assert!(log.iter().all(|r| r["status"] == "succeeded"), "{log:?}");
    let mut ids: Vec<&str> = log.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ATTEMPTS);
    eprintln!("deploy stress: {ATTEMPTS} racing redeploys from {CLONES} clones, all serialized, in {elapsed:.2?}");
}
