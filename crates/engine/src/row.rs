//! Which row of a worker's metrics a measurement goes to. The rows are the plan's token steps
//! first, then its steps; [`Row::index`] is the one place that layout is spelled out, so that
//! no caller adds offsets by hand.

/// A row of a worker's metrics: a token step or a step, each
/// numbered in the plan's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A token step, by its index in the plan's `tokens`.
    Token(usize),
    /// A step, by its index in the plan's `steps`.
    Step(usize),
}

impl Row {
    /// The row's position among all rows, given how many token steps there are.
    pub fn index(self, tokens: usize) -> usize {
        match self {
            Row::Token(t) => t,
            Row::Step(s) => tokens + s,
        }
    }

    /// The inverse of [`Row::index`].
    pub fn at(index: usize, tokens: usize) -> Row {
        if index < tokens {
            Row::Token(index)
        } else {
            Row::Step(index - tokens)
        }
    }

    /// A token step's row: its requests count as the second's token requests, apart from the
    /// step requests and their latency.
    pub fn is_token(self) -> bool {
        matches!(self, Row::Token(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_steps_come_first() {
        assert_eq!(Row::Token(1).index(2), 1);
        assert_eq!(Row::Step(0).index(2), 2);
        for i in 0..5 {
            assert_eq!(Row::at(i, 2).index(2), i);
        }
        assert!(Row::at(1, 2).is_token() && !Row::at(2, 2).is_token());
    }
}
