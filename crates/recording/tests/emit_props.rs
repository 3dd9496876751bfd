//! Property tests: whatever JSON or string goes through the emitter, three YAML readers read it
//! back unchanged: serde_yaml (what loadtape reads with), saphyr (YAML 1.2) and PyYAML (YAML
//! 1.1, what people's scripts read with). The first two run per case with shrinking; PyYAML
//! reads a batch of cases in one python3 run (a start-up per case would cost seconds), and
//! only a failing case is shrunk one python3 run at a time.

mod support {
    pub(crate) mod cases;
}
#[path = "support/yaml_readers.rs"]
mod yaml_readers;

use std::fmt::Debug;
use std::time::{Duration, Instant};

use loadtape_recording::{emit, Exchange};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};
use proptest::{prelude::*, strategy::Strategy};
use serde_json::Value;
use support::cases::{exchange, json_value, judge_exchange, judge_value, value_docs};

/// serde_yaml, typed: what `read_recording` does.
fn serde_typed(e: &Exchange, doc: &str) -> Result<(), String> {
    let back: Exchange = serde_yaml::from_str(doc).map_err(|err| format!("serde_yaml: {err}"))?;
    if &back == e {
        Ok(())
    } else {
        Err(format!("serde_yaml read {back:?}"))
    }
}

proptest! {
    // Seeded: a failure shows up on every run, not one run in a hundred.
    #![proptest_config(Config {
        cases: 500,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(14_15),
        ..Config::default()
    })]

    #[test]
    fn any_exchange_reads_back_in_serde_yaml_and_saphyr(e in exchange()) {
        let doc = emit::exchange(&e);
        let fail = |who: &str, err: String| TestCaseError::fail(format!("{who}: {err}\n{doc}"));
        serde_typed(&e, &doc).map_err(|err| fail("serde_yaml (typed)", err))?;
        judge_exchange(&e, yaml_readers::serde_yaml(&doc)).map_err(|err| fail("serde_yaml", err))?;
        judge_exchange(&e, yaml_readers::saphyr(&doc)).map_err(|err| fail("saphyr", err))?;
    }

    #[test]
    fn any_json_value_reads_back_in_serde_yaml_and_saphyr(v in json_value()) {
        for doc in value_docs(&v) {
            let fail = |who: &str, err: String| TestCaseError::fail(format!("{who}: {err}\n{doc}"));
            judge_value(&v, yaml_readers::serde_yaml(&doc)).map_err(|err| fail("serde_yaml", err))?;
            judge_value(&v, yaml_readers::saphyr(&doc)).map_err(|err| fail("saphyr", err))?;
        }
    }
}

/// Generates `cases` values from a fixed seed, has PyYAML read all their documents in one run,
/// and on a failure shrinks the first failing case (one run per step, for at most
/// `SHRINK_TIME`) to report the smallest one found.
fn pyyaml_holds<T: Debug>(
    strategy: impl Strategy<Value = T>,
    cases: usize,
    docs: impl Fn(&T) -> Vec<String>,
    judge: impl Fn(&T, Result<Vec<Value>, String>) -> Result<(), String>,
) {
    const SHRINK_TIME: Duration = Duration::from_secs(15);
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[14; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut trees: Vec<_> = (0..cases)
        .map(|_| strategy.new_tree(&mut runner).expect("a case"))
        .collect();
    // The first failing document of a case, with why.
    let verdict = |value: &T, readings: &mut dyn Iterator<Item = Result<Vec<Value>, String>>| {
        docs(value)
            .into_iter()
            .zip(readings)
            .find_map(|(doc, read)| judge(value, read).err().map(|why| format!("{why}\n{doc}")))
    };
    let all: Vec<Vec<String>> = trees.iter().map(|t| docs(&t.current())).collect();
    let mut readings = yaml_readers::pyyaml(&all.concat()).into_iter();
    let mut failing = Vec::new();
    for (i, (tree, case_docs)) in trees.iter().zip(&all).enumerate() {
        let mut mine = readings.by_ref().take(case_docs.len());
        if verdict(&tree.current(), &mut mine).is_some() {
            failing.push(i);
        }
        mine.for_each(drop);
    }
    let Some(&first) = failing.first() else {
        return;
    };
    let tree = &mut trees[first];
    let check = |v: &T| verdict(v, &mut yaml_readers::pyyaml(&docs(v)).into_iter());
    let mut why = check(&tree.current()).expect("fails again");
    let mut smallest = format!("{:?}", tree.current());
    let deadline = Instant::now() + SHRINK_TIME;
    let mut can_shrink = tree.simplify();
    while can_shrink && Instant::now() < deadline {
        can_shrink = match check(&tree.current()) {
            Some(w) => {
                (why, smallest) = (w, format!("{:?}", tree.current()));
                tree.simplify()
            }
            None => tree.complicate(),
        };
    }
    panic!(
        "PyYAML reads {} of {cases} cases otherwise; the smallest found:\n{smallest}\n{why}",
        failing.len()
    );
}

#[test]
fn pyyaml_reads_any_exchange_back() {
    pyyaml_holds(exchange(), 600, |e| vec![emit::exchange(e)], judge_exchange);
}

#[test]
fn pyyaml_reads_any_json_value_back() {
    pyyaml_holds(json_value(), 1000, value_docs, judge_value);
}
