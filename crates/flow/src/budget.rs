//! A run's model usage against its flow's budget.

use std::sync::Mutex;

use crate::event::{EventKind, RunEvent};
use crate::model::{Budget, BudgetAction};
use crate::ports::CallUsage;

/// How to go on after a budget stopped a run.
const STOP_FIX: &str = "the run stopped; resume it with a higher limit (`codexos runs resume ID --budget-tokens N` or `--budget-usd D`), raise the flow's `budget` for new runs, or set `onExceed` to \"warn\"";

/// What a run has used so far, and what the budget already said.
#[derive(Debug, Default)]
pub(crate) struct Spent {
    state: Mutex<SpentState>,
}

#[derive(Debug, Default)]
struct SpentState {
    tokens: u64,
    dollars: f64,
    warned: bool,
    stopped: Option<String>,
}

/// What charging one call decided.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Charge {
    /// The event to record (`message`, `stopped`), the first time a limit is crossed.
    pub(crate) event: Option<EventKind>,
    /// The node's error when the run stops.
    pub(crate) error: Option<String>,
}

impl Spent {
    /// Usage already recorded by this run (its model-call events), for a
    /// resume; with `same_budget`, what the budget said then holds too (a run
    /// it stopped stays stopped, a warning is not repeated).
    pub(crate) fn from_events(events: &[RunEvent], same_budget: bool) -> Self {
        let spent = Self::default();
        if let Ok(mut state) = spent.state.lock() {
            for event in events {
                match &event.event {
                    EventKind::ModelCall { usage, .. } => {
                        state.tokens += usage.prompt_tokens + usage.completion_tokens;
                        state.dollars += usage.cost_usd.unwrap_or(0.0);
                    }
                    EventKind::Budget { message, stopped } if same_budget => {
                        if *stopped {
                            state.stopped = Some(format!("{message} — {STOP_FIX}"));
                        } else {
                            state.warned = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        spent
    }

    /// The error of a run that already stopped on its budget: no more model
    /// calls (a retry or a parallel branch would spend more).
    pub(crate) fn stopped(&self) -> Option<String> {
        self.state.lock().ok()?.stopped.clone()
    }

    /// Counts one call against `budget`.
    pub(crate) fn charge(&self, budget: Option<&Budget>, usage: &CallUsage) -> Charge {
        let Ok(mut state) = self.state.lock() else {
            return Charge::default();
        };
        state.tokens += usage.prompt_tokens + usage.completion_tokens;
        state.dollars += usage.cost_usd.unwrap_or(0.0);
        let Some(budget) = budget else {
            return Charge::default();
        };
        let crossed = match (budget.tokens, budget.cost_usd) {
            (Some(limit), _) if state.tokens > limit => Some(format!(
                "budget: {} tokens used, {limit} allowed",
                state.tokens
            )),
            (_, Some(limit)) if state.dollars > limit => Some(format!(
                "budget: ${:.4} spent, ${limit:.4} allowed",
                state.dollars
            )),
            _ => None,
        };
        let Some(message) = crossed else {
            return Charge::default();
        };
        match budget.on_exceed {
            BudgetAction::Stop => {
                let error = format!("{message} — {STOP_FIX}");
                let first = state.stopped.is_none();
                state.stopped = Some(error.clone());
                Charge {
                    event: first.then_some(EventKind::Budget {
                        message,
                        stopped: true,
                    }),
                    error: Some(error),
                }
            }
            BudgetAction::Warn if !state.warned => {
                state.warned = true;
                Charge {
                    event: Some(EventKind::Budget {
                        message: format!("{message} — going on (onExceed: warn)"),
                        stopped: false,
                    }),
                    error: None,
                }
            }
            BudgetAction::Warn => Charge::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(tokens: u64, cost: Option<f64>) -> CallUsage {
        CallUsage {
            prompt_tokens: tokens,
            cost_usd: cost,
            ..CallUsage::default()
        }
    }

    #[test]
    fn a_token_budget_stops_at_the_call_that_crosses_it() {
        let budget = Budget {
            tokens: Some(100),
            cost_usd: None,
            on_exceed: BudgetAction::Stop,
        };
        let spent = Spent::default();
        assert_eq!(
            spent.charge(Some(&budget), &call(60, None)),
            Charge::default()
        );
        let crossed = spent.charge(Some(&budget), &call(60, None));
        assert!(
            matches!(crossed.event, Some(EventKind::Budget { stopped: true, .. })),
            "{crossed:?}"
        );
        assert!(crossed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("120 tokens used, 100 allowed"));
        assert!(spent.stopped().is_some());
        // The event is said once; later calls still fail.
        let again = spent.charge(Some(&budget), &call(1, None));
        assert_eq!(again.event, None);
        assert!(again.error.is_some());
    }

    #[test]
    fn a_money_budget_warns_once_and_goes_on() {
        let budget = Budget {
            tokens: None,
            cost_usd: Some(0.01),
            on_exceed: BudgetAction::Warn,
        };
        let spent = Spent::default();
        assert_eq!(
            spent.charge(Some(&budget), &call(10, Some(0.006))),
            Charge::default()
        );
        let crossed = spent.charge(Some(&budget), &call(10, Some(0.006)));
        assert!(
            matches!(
                crossed.event,
                Some(EventKind::Budget { stopped: false, .. })
            ),
            "{crossed:?}"
        );
        assert_eq!(crossed.error, None);
        assert_eq!(
            spent.charge(Some(&budget), &call(10, Some(0.006))),
            Charge::default()
        );
        assert_eq!(spent.stopped(), None);
        // No budget: counted, never refused.
        assert_eq!(
            spent.charge(None, &call(1_000_000, Some(5.0))),
            Charge::default()
        );
    }

    #[test]
    fn a_resumed_run_starts_from_what_its_recorded_calls_used() {
        let event = |tokens| RunEvent {
            run: "r".into(),
            seq: 0,
            at_ms: 0,
            node: Some("n".into()),
            event: EventKind::ModelCall {
                provider: "p".into(),
                model: "m".into(),
                usage: Box::new(call(tokens, None)),
            },
        };
        let spent = Spent::from_events(&[event(70), event(20)], true);
        let budget = Budget {
            tokens: Some(100),
            ..Budget::default()
        };
        assert_eq!(spent.stopped(), None);
        assert!(spent.charge(Some(&budget), &call(20, None)).error.is_some());
        // A run the budget stopped stays stopped on resume, unless a new
        // budget is given for the resume.
        let stop = RunEvent {
            event: EventKind::Budget {
                message: "budget: 110 tokens used, 100 allowed".into(),
                stopped: true,
            },
            ..event(0)
        };
        assert!(Spent::from_events(&[event(110), stop.clone()], true)
            .stopped()
            .is_some());
        assert_eq!(
            Spent::from_events(&[event(110), stop], false).stopped(),
            None
        );
    }
}
