//! Where a VU's template variables live.
//!
//! Every name a scenario can bind (data columns, variables, extracted values) gets a slot
//! number when the plan is compiled. A VU keeps its own values in a `Vec` indexed by slot, a
//! shared token's values stay in the one `Arc` every VU holds (no copy per VU or per
//! iteration), and a data column is read from the shared rows by the VU's current row index.
//! Rendering asks [`View`] for a name: one hash lookup to the slot, then an index.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use loadtape_scenario::template::Vars;

use crate::data::DataSet;
use crate::tokens::TokenValue;

/// Where a slot's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The VU's own value (variables, step extracts, per-VU token extracts).
    Local(usize),
    /// Column `column` of data source `source`, at the VU's current row.
    Data {
        /// Index of the source in the plan's `data`.
        source: usize,
        /// Index of the column in the source.
        column: usize,
    },
    /// Value `index` of shared token `token`.
    Shared {
        /// Index of the token step in the plan's `tokens`.
        token: usize,
        /// Index of the value in the token step's `extract` order.
        index: usize,
    },
}

/// Name → slot, built once per plan.
#[derive(Debug, Default)]
pub struct SlotTable {
    by_name: HashMap<String, Slot>,
    locals: usize,
}

impl SlotTable {
    /// The local slot for `name`, made on first use.
    pub fn local(&mut self, name: &str) -> usize {
        if let Some(Slot::Local(i)) = self.by_name.get(name) {
            return *i;
        }
        let i = self.locals;
        self.locals += 1;
        self.by_name.insert(name.to_string(), Slot::Local(i));
        i
    }

    /// Makes `name` refer to `slot` (a data column or a shared token's value).
    pub fn bind(&mut self, name: &str, slot: Slot) {
        self.by_name.insert(name.to_string(), slot);
    }

    /// Where the value called `name` lives, if a scenario binds it.
    pub fn get(&self, name: &str) -> Option<Slot> {
        self.by_name.get(name).copied()
    }

    /// How many local slots there are: the length of a VU's own value list.
    pub fn locals(&self) -> usize {
        self.locals
    }
}

/// A VU's variables as the template renderer sees them.
pub(crate) struct View<'a> {
    /// The plan's names and their slots.
    pub table: &'a SlotTable,
    /// The VU's own values, by local slot; `None` until set.
    pub locals: &'a [Option<String>],
    /// Per local slot: the value is typed JSON (see [`Vars::is_json`]).
    pub typed: &'a [bool],
    /// Per data source, the VU's current row; `None` until one is picked.
    pub rows: &'a [Option<usize>],
    /// The plan's data sources.
    pub data: &'a [DataSet],
    /// Per token step, the shared token's value the VU holds; `None` until fetched.
    pub shared: &'a [Option<Arc<TokenValue>>],
}

impl Vars for View<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let text: &str = match self.table.get(name)? {
            Slot::Local(i) => self.locals.get(i)?.as_deref()?,
            Slot::Data { source, column } => {
                let row = (*self.rows.get(source)?)?;
                self.data.get(source)?.cell(row, column)?
            }
            Slot::Shared { token, index } => self
                .shared
                .get(token)?
                .as_ref()?
                .values
                .get(index)?
                .as_str(),
        };
        Some(Cow::Borrowed(text))
    }

    fn is_json(&self, name: &str) -> bool {
        match self.table.get(name) {
            Some(Slot::Local(i)) => self.typed.get(i).copied().unwrap_or(false),
            Some(Slot::Shared { token, index }) => self
                .shared
                .get(token)
                .and_then(|v| v.as_ref())
                .and_then(|v| v.typed.get(index).copied())
                .unwrap_or(false),
            _ => false,
        }
    }
}

/// A token step's freshly extracted values over the VU's: what its `expires_in` renders with.
pub(crate) struct Layered<'a> {
    /// The token step's values, name and text, looked up first.
    pub top: &'a [(String, String)],
    /// The VU's variables, for every other name.
    pub base: &'a dyn Vars,
}

impl Vars for Layered<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        match self.top.iter().find(|(k, _)| k == name) {
            Some((_, v)) => Some(Cow::Borrowed(v.as_str())),
            None => self.base.get(name),
        }
    }
}
