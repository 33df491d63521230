//! A popup's life on the page: asked for or chosen by the rules, waiting for its moment,
//! on screen, closed or withdrawn, and what each step records for the frequency rules.

#[allow(unused_imports)]
use crate::prelude::*;

use funnel::frequency::Recent;

use super::Tracker;
use crate::js;
use crate::json::Object;

impl Tracker {
    /// The popup the rules chose is not on screen yet (the tab is hidden, or the page shows
    /// its own dialog) and a history stored elsewhere has just been adopted (another tab's,
    /// the one consent gave access to, or the one pages visited while this one was cached
    /// left): if it holds a showing or a close the frequency rules now count against the
    /// popup, it never shows. (This page's own showing is not one: it has not happened, and
    /// the page view may still show another popup.)
    pub(super) fn recheck_waiting(&mut self) {
        let (Some(site), Some(id), true, false) = (&self.config, &self.open, self.by_rules, self.mounted)
        else {
            return;
        };
        let Some(c) = site.campaigns.iter().find(|c| c.id == *id) else { return };
        let recent = Recent { shown_this_page: false, last_popup_at: self.history.last_popup };
        if !funnel::frequency::allows(
            &c.frequency,
            &site.frequency,
            self.history.memory(id),
            recent,
            js::now(),
        ) {
            self.withdraw();
            self.page.shown = false;
        }
    }

    /// Mounts campaign `id` (from a trigger, a click or `lodestone.open`).
    pub fn show(&mut self, id: &str) {
        // Asked for (the rules say so after this): nothing but a close withdraws it.
        self.by_rules = false;
        if self.open.is_some() {
            // Asked for while another waits to appear (loading, or waiting for the tab or the
            // page's own dialog): the request wins. (The rules choose only when none is open.)
            if self.mounted || self.open.as_deref() == Some(id) {
                self.for_this_page = false;
                return;
            }
            self.withdraw();
        }
        let Some(site) = &self.config else {
            self.asked = Some(id.to_owned());
            return;
        };
        if !site.campaigns.iter().any(|c| c.id == id) {
            return;
        }
        self.page.shown = true;
        self.open = Some(id.to_owned());
        self.host.show(id);
    }

    pub fn mounted(&mut self) {
        self.for_this_page = false;
        if let Some(id) = self.open.clone() {
            self.mounted = true;
            let now = js::now();
            let visits = self.history.visits;
            let m = self.history.memory_mut(&id);
            m.shown = if m.session == visits { m.shown + 1 } else { 1 };
            m.session = visits;
            // A showing the visitor leaves without closing (a link, Back, the tab closed) is
            // dismissed all the same: its after-close cooldown starts now, and a close or a
            // conversion during the showing replaces this.
            m.closed_at = Some(now);
            self.history.last_popup = Some(now);
            self.save();
            self.campaign_event(&id, "shown");
            self.host.emit("lodestone:show", &Object::new().str("campaign", &id).end());
            self.refresh_overlay();
        }
    }

    pub fn mount_failed(&mut self) {
        self.for_this_page = false;
        self.mounted = false;
        self.open = None;
        self.refresh_overlay();
    }

    /// The popup closed (by the visitor, or by the API): the cooldown starts.
    pub fn closed(&mut self, reason: &str) {
        self.for_this_page = false;
        self.mounted = false;
        let Some(id) = self.open.take() else { return };
        self.end_showing(&id);
        self.campaign_event(&id, "closed");
        self.refresh_overlay();
        self.host.emit("lodestone:close", &Object::new().str("campaign", &id).str("reason", reason).end());
    }

    /// A showing of `id` ended (closed, or left on screen as the visitor moved on): its
    /// after-close cooldown and the global cooldown run from now, however long it stayed open.
    pub(super) fn end_showing(&mut self, id: &str) {
        let now = js::now();
        let shown_at = self.history.last_popup;
        let memory = self.history.memory_mut(id);
        if funnel::frequency::close_starts_cooldown(memory.converted_at, shown_at) {
            memory.closed_at = Some(now);
        }
        self.history.last_popup = Some(now);
        self.save();
    }

    pub fn close(&mut self) {
        // Asked for before the config arrived: never shown.
        self.asked = None;
        if self.open.is_some() {
            if self.mounted {
                self.host.hide();
                self.closed("api");
            } else {
                self.withdraw();
            }
        }
    }

    /// The popup chosen is not on screen yet (loading, waiting for the tab or the page's own
    /// dialog): it never will be. A withdrawal, not a dismissal: no cooldown, no counter.
    fn withdraw(&mut self) {
        self.host.hide();
        self.for_this_page = false;
        self.open = None;
        self.refresh_overlay();
    }
}
