//! `minstrel:plugin/config`: the plugin's own settings from the operator. Needs no
//! grant: the settings are the operator's word to this plugin, and no plugin can read
//! another's.

use crate::plugins::api::v0_2_0::config::Host;
use crate::plugins::state::CallState;

impl Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.budget.charge()?;
        Ok(self.plugin.settings.get(&key).cloned())
    }
}
