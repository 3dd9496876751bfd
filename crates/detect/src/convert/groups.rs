//! A recording with group marks as the flows `convert` makes of it: one sub-recording per
//! group. Shared by `loadtape convert` and the recorder's UI (its scenario download), so both
//! cut the groups the same way.

use loadtape_recording::{Exchange, Recording};

/// The flows of a recording's groups, in the order the groups first appear: each holds the
/// exchanges before the first mark (the login, as a rule) and the group's own, and is named
/// after the group. With several testers, only the first tester's exchanges count (the
/// others are converted from `record --split`'s files). Empty when nothing is marked.
pub fn group_recordings(rec: &Recording) -> Vec<(String, Recording)> {
    let first_tester = rec.exchanges.iter().find_map(|e| e.tester.as_deref());
    let mine: Vec<&Exchange> = rec
        .exchanges
        .iter()
        .filter(|e| first_tester.is_none() || e.tester.as_deref() == first_tester)
        .collect();
    let before: Vec<Exchange> = mine
        .iter()
        .take_while(|e| e.group.is_none())
        .map(|e| (*e).clone())
        .collect();
    let mut groups: Vec<&str> = Vec::new();
    for g in mine.iter().filter_map(|e| e.group.as_deref()) {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut sub = Recording {
                header: rec.header.clone(),
                exchanges: before.clone(),
                truncated_tail: None,
            };
            sub.exchanges.extend(
                mine.iter()
                    .filter(|e| e.group.as_deref() == Some(g))
                    .map(|e| (*e).clone()),
            );
            sub.header.name = g.to_string();
            (g.to_string(), sub)
        })
        .collect()
}
