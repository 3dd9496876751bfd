//! The Kubernetes manifests in deploy/kubernetes/ are what the README says they are: an
//! Indexed Job whose completion index picks the segment, writing to a shared volume, and a
//! merge Job reading from it. No cluster here: the YAML is parsed and its fields checked.

use std::path::PathBuf;

use serde::Deserialize as _;
use serde_yaml::Value;

fn docs(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The container's command line, as the shell will see it.
fn script(c: &Value) -> String {
    let mut all: Vec<&str> = Vec::new();
    for key in ["command", "args"] {
        if let Some(list) = c[key].as_sequence() {
            all.extend(list.iter().map(s));
        }
    }
    all.join(" ")
}

fn mounts(c: &Value) -> Vec<(&str, &str)> {
    c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| (s(&m["name"]), s(&m["mountPath"])))
        .collect()
}

#[test]
fn the_shards_are_an_indexed_job_picking_their_segment_by_completion_index() {
    let docs = docs("loadtape-job.yaml");
    let job = kind(&docs, "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert!(n >= 2);
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let c = &pod["containers"][0];
    let env: Vec<(&str, &str)> = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (s(&e["name"]), s(&e["value"])))
        .collect();
    assert!(
        env.contains(&("SEGMENTS", n.to_string().as_str())),
        "{env:?}"
    );
    assert!(env.iter().any(|(k, _)| *k == "START_AT"));

    let sh = script(c);
    assert!(sh.contains("loadtape run /scenario/scenario.yaml"), "{sh}");
    assert!(
        sh.contains(r#"--segment "$((JOB_COMPLETION_INDEX + 1))/$SEGMENTS""#),
        "{sh}"
    );
    assert!(sh.contains(r#"--start-at "$START_AT""#), "{sh}");
    assert!(
        sh.contains(r#"--out "/results/result-$JOB_COMPLETION_INDEX.json""#),
        "{sh}"
    );

    // The scenario from a ConfigMap at /scenario, results on the shared claim at /results.
    let m = mounts(c);
    assert!(m.contains(&("scenario", "/scenario")), "{m:?}");
    assert!(m.contains(&("results", "/results")), "{m:?}");
    let volumes = pod["volumes"].as_sequence().unwrap();
    let vol = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap();
    assert_eq!(vol("scenario")["configMap"]["name"], "loadtape-scenario");
    let claim = s(&vol("results")["persistentVolumeClaim"]["claimName"]);
    let pvc = kind(&docs, "PersistentVolumeClaim");
    assert_eq!(pvc["metadata"]["name"], claim);
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");
}

#[test]
fn the_merge_job_merges_every_shard_on_the_same_volume() {
    let shards = docs("loadtape-job.yaml");
    let claim = s(&kind(&shards, "PersistentVolumeClaim")["metadata"]["name"]).to_string();
    let image =
        s(&kind(&shards, "Job")["spec"]["template"]["spec"]["containers"][0]["image"]).to_string();
    let docs = docs("loadtape-merge.yaml");
    let job = kind(&docs, "Job");
    let pod = &job["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(s(&c["image"]), image);
    let sh = script(c);
    assert!(
        sh.contains("loadtape report merge /results/result-*.json --html /results/report.html"),
        "{sh}"
    );
    assert!(mounts(c).contains(&("results", "/results")));
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        claim.as_str()
    );
}
