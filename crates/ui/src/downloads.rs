//! The downloads of the recording's current state: the recording itself (its drops applied,
//! or `?as=file` for the file byte for byte, tombstones and all), a HAR (the recording
//! crate's export) and the scenario (the detect crate's conversion, one flow per group when
//! groups are marked, as `loadtape convert` makes it).

use http::{Response, StatusCode};
use loadtape_detect::{analyze, convert, group_recordings, mix, ConvertOptions, MixPart, Options};
use loadtape_proxy::ProxyBody;
use loadtape_recording::{recording_yaml, to_har, Recording};

use crate::reply;
use crate::snapshot::Snapshots;

/// What can be downloaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Download {
    /// The recording with its drops applied.
    Recording,
    /// The recording file as it is on disk.
    File,
    /// HAR 1.2.
    Har,
    /// The converted scenario.
    Scenario,
}

/// The download `what` of the recording now.
pub(crate) async fn serve(snapshots: &Snapshots, what: Download) -> Response<ProxyBody> {
    let stem = snapshots
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    if what == Download::File {
        let path = snapshots.path().to_path_buf();
        let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
        return match read.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
            Ok(bytes) => reply::download("application/yaml", &format!("{stem}.yaml"), bytes),
            Err(e) => reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read {}: {e}", snapshots.path().display()),
            ),
        };
    }
    let snapshot = match snapshots.current().await {
        Ok(s) => s,
        Err(why) => return reply::error(StatusCode::CONFLICT, why),
    };
    let rec = snapshot.recording.clone();
    let made = tokio::task::spawn_blocking(move || match what {
        Download::Recording | Download::File => Ok(recording_yaml(&rec).into_bytes()),
        Download::Har => Ok(to_har(&rec).to_string().into_bytes()),
        Download::Scenario => scenario(&rec).map(String::into_bytes),
    })
    .await
    .unwrap_or_else(|e| Err(format!("the download failed: {e}")));
    let (content_type, name) = match what {
        Download::Har => ("application/json", format!("{stem}.har")),
        Download::Scenario => ("application/yaml", format!("{stem}.scenario.yaml")),
        _ => ("application/yaml", format!("{stem}.current.yaml")),
    };
    match made {
        Ok(bytes) => reply::download(content_type, &name, bytes),
        Err(why) => reply::error(StatusCode::CONFLICT, why),
    }
}

/// The scenario `loadtape convert` makes of `rec` with its default options.
fn scenario(rec: &Recording) -> Result<String, String> {
    let options = ConvertOptions::default();
    let groups = group_recordings(rec);
    if groups.is_empty() {
        let analysis = analyze(rec, &Options::default())?;
        return Ok(convert(rec, &analysis, &options).yaml());
    }
    let mut parts = Vec::with_capacity(groups.len());
    for (group, sub) in &groups {
        let analysis = analyze(sub, &Options::default())?;
        parts.push(MixPart {
            flow: group.clone(),
            weight: None,
            conversion: convert(sub, &analysis, &options),
        });
    }
    mix(&rec.header.name, parts)
        .map(|c| c.yaml())
        .ok_or_else(|| "nothing to convert yet".to_string())
}
