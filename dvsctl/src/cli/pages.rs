//! `dump-flows` across pages: the switch answers `flow/dump` a bounded page at a time.
//!
//! A page carries `next` when flows remain; sending it back as `after` gets the following page.
//! `dump-flows` follows the pages to the end and hands the formatter one answer holding every
//! flow, in order, so its output (text or `--json`) is what a single answer gave before the switch
//! paged, whatever the number of flows.

use serde_json::{json, Value};

/// Every flow `flow/dump` with `params` returns, following the pages through `call` (one
/// `flow/dump` call with the given params each), as one `{"flows": [...]}` answer.
///
/// A page without a `flows` list is returned as it is, for the formatter to report; a switch
/// that sends the same `next` twice is an error rather than an endless loop.
pub fn all_flows(
    mut params: Value,
    mut call: impl FnMut(Value) -> Result<Value, String>,
) -> Result<Value, String> {
    let mut flows = Vec::new();
    loop {
        let mut page = call(params.clone())?;
        let Some(Value::Array(texts)) = page.get_mut("flows").map(Value::take) else {
            return Ok(page);
        };
        flows.extend(texts);
        let next = match page.get_mut("next").map(Value::take) {
            None | Some(Value::Null) => return Ok(json!({ "flows": flows })),
            Some(next) => next,
        };
        let Some(p) = params.as_object_mut() else {
            return Err("flow/dump: params must be an object".into());
        };
        if p.get("after") == Some(&next) {
            return Err("flow/dump: the switch sent the same page cursor twice".into());
        }
        p.insert("after".into(), next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{format, SwitchCmd};

    /// A switch holding `n` flows that pages them `per` at a time; records each call's params.
    fn switch(
        n: usize,
        per: usize,
        log: &mut Vec<Value>,
    ) -> impl FnMut(Value) -> Result<Value, String> + '_ {
        move |p: Value| {
            log.push(p.clone());
            let start = p
                .get("after")
                .map_or(0, |a| a["at"].as_u64().unwrap() as usize);
            let end = (start + per).min(n);
            let flows: Vec<String> = (start..end)
                .map(|i| format!(" priority={i} actions=drop"))
                .collect();
            Ok(if end < n {
                json!({ "flows": flows, "next": { "at": end } })
            } else {
                json!({ "flows": flows })
            })
        }
    }

    fn dump_text(v: &Value) -> String {
        let cmd = SwitchCmd::DumpFlows {
            bridge: "br0".into(),
            table: None,
        };
        format::render(&cmd, v).unwrap()
    }

    #[test]
    fn pages_print_as_one_dump() {
        let mut log = Vec::new();
        let one = all_flows(json!({"bridge": "br0"}), switch(25, 100, &mut log)).unwrap();
        assert_eq!(log, [json!({"bridge": "br0"})], "one page, one call");
        let mut log = Vec::new();
        let paged = all_flows(
            json!({"bridge": "br0", "table": 1}),
            switch(25, 10, &mut log),
        )
        .unwrap();
        assert_eq!(paged, one, "the same answer, --json included");
        assert_eq!(dump_text(&paged), dump_text(&one));
        assert_eq!(dump_text(&paged).lines().count(), 25);
        assert_eq!(
            log,
            [
                json!({"bridge": "br0", "table": 1}),
                json!({"bridge": "br0", "table": 1, "after": {"at": 10}}),
                json!({"bridge": "br0", "table": 1, "after": {"at": 20}}),
            ]
        );
        let empty = all_flows(json!({"bridge": "br0"}), switch(0, 10, &mut Vec::new())).unwrap();
        assert_eq!(empty, json!({"flows": []}));
    }

    #[test]
    fn bad_pages_and_failed_calls_stop_the_dump() {
        let stuck = |_| Ok(json!({"flows": ["x"], "next": 1}));
        assert_eq!(
            all_flows(json!({}), stuck).unwrap_err(),
            "flow/dump: the switch sent the same page cursor twice"
        );
        let odd = all_flows(json!({}), |_| Ok(json!([1]))).unwrap();
        assert_eq!(odd, json!([1]), "left for the formatter to refuse");
        let err = all_flows(json!({}), |_| Err("no bridge named br9".to_string()));
        assert_eq!(err.unwrap_err(), "no bridge named br9");
    }
}
