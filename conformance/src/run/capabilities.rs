//! Optional capabilities (server mode): whether the target has rooms, contacts, accounts ...
//! Options-backed capabilities (`credentials`, `offline-account`) are present when the options
//! (or the embedded reference) provide them; probed ones are decided once per run by their
//! probe fixture (`probe_for`): "unknown action" means unimplemented, and the cases that
//! require an unimplemented capability are reported so instead of failed, unless `--expect`.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::ServerMode;
use super::session::Run;
use crate::catalog::CapabilitySource;
use crate::i18n::Said;
use crate::model::Fixture;
use crate::report::{CapabilityReport, CaseResult, Verdict};
use crate::vocab::{Capability, CapabilityState, Delivery};

/// What the run knows about one capability.
#[derive(Debug, Clone)]
pub(crate) enum CapState {
    Present,
    Unimplemented(Said),
    Failed,
    Unavailable(Said),
}

impl Run<ServerMode> {
    pub(crate) fn probe_cell(&self, cap: Capability) -> Arc<OnceCell<CaseResult>> {
        let mut map = self.mode.probes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(cap).or_default())
    }

    fn probe_fixture(&self, cap: Capability) -> Option<Arc<Fixture>> {
        let probes: Vec<&Arc<Fixture>> =
            self.suite.fixtures.iter().filter(|f| f.probe_for == Some(cap)).collect();
        probes.iter().find(|f| self.profile.selects(f)).or(probes.first()).map(|f| Arc::clone(f))
    }

    pub(crate) async fn cap_state(&self, cap: Capability) -> CapState {
        if cap.source() == CapabilitySource::Options {
            return match cap {
                Capability::Credentials if self.mode.credentials.is_none() => {
                    CapState::Unavailable(Said::new(
                        "needs --user and --password (an account on the server)",
                        "нужны --user и --password (учётная запись на сервере)",
                    ))
                }
                Capability::OfflineAccount if self.mode.offline.is_none() => {
                    CapState::Unavailable(Said::new(
                        "needs --offline-user NAME (an account that is not connected)",
                        "нужен --offline-user ИМЯ (учётная запись, которая не подключена)",
                    ))
                }
                _ => CapState::Present,
            };
        }
        let Some(probe) = self.probe_fixture(cap) else { return CapState::Present };
        if let Err(skip) = self.precheck(&probe).await {
            return CapState::Unavailable(skip.1);
        }
        let cell = self.probe_cell(cap);
        let result = cell.get_or_init(|| self.execute(&probe, Delivery::Whole)).await;
        match result.verdict {
            Verdict::Unimplemented => {
                CapState::Unimplemented(result.reason.clone().unwrap_or_default())
            }
            v if v.passed() => CapState::Present,
            _ => CapState::Failed,
        }
    }

    /// Checks options and capabilities; Err((verdict, reason)) when the case cannot run.
    pub(crate) async fn precheck(&self, fx: &Fixture) -> Result<(), (Verdict, Said)> {
        for &cap in &fx.requires {
            if fx.probe_for == Some(cap) {
                continue;
            }
            match Box::pin(self.cap_state(cap)).await {
                CapState::Present | CapState::Failed => {}
                CapState::Unavailable(r) => return Err((Verdict::Skip, r)),
                CapState::Unimplemented(r) if !self.opts.mode.expect.contains(&cap) => {
                    return Err((
                        Verdict::Unimplemented,
                        r.prefixed(&format!("{cap}: "), &format!("{cap}: ")),
                    ));
                }
                CapState::Unimplemented(_) => {}
            }
        }
        Ok(())
    }

    /// What the run learned about every capability the reported cases require.
    pub(crate) async fn capability_reports(
        &self,
        cases: &[CaseResult],
    ) -> BTreeMap<Capability, CapabilityReport> {
        let mut caps: Vec<Capability> = cases
            .iter()
            .filter_map(|c| self.suite.fixture(&c.id))
            .flat_map(|f| f.requires.clone())
            .collect();
        caps.sort();
        caps.dedup();
        let mut reports = BTreeMap::new();
        for cap in caps {
            let report = |state, reason| CapabilityReport { state, reason };
            let cell = self.probe_cell(cap);
            // The probe's result as the run revised it (a bare 2xx credits nothing), else as
            // it ran.
            let revised = cases.iter().find(|c| {
                c.delivery == Delivery::Whole
                    && self.suite.fixture(&c.id).is_some_and(|f| f.probe_for == Some(cap))
            });
            let r = match (cap.source(), revised.or(cell.get())) {
                (CapabilitySource::Options, _) => match Box::pin(self.cap_state(cap)).await {
                    CapState::Unavailable(r) => report(CapabilityState::Unavailable, Some(r)),
                    _ => report(CapabilityState::Present, None),
                },
                (_, Some(r)) => match r.verdict {
                    Verdict::Unimplemented => {
                        report(CapabilityState::Unimplemented, r.reason.clone())
                    }
                    v if v.passed() => report(CapabilityState::Present, None),
                    _ => report(CapabilityState::Failed, r.reason.clone()),
                },
                (_, None) => report(CapabilityState::NotProbed, None),
            };
            reports.insert(cap, r);
        }
        reports
    }
}
