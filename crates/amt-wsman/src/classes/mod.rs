//! The AMT, IPS and CIM classes the emulated firmware exposes, one file per
//! class, and the [`ClassHandler`] trait they implement.
//!
//! A handler turns device state into [`Instance`]s (properties in the
//! firmware's order, which is ASCII order of the property names) and, for
//! classes that have them, applies Put/Create/Delete and methods to the
//! device. The engine does the rest: selectors, enumeration, rendering,
//! faults, access control. Operations a class does not override answer
//! `ActionNotSupported`.

use amt_device::accounts::Realm;
use amt_device::Device;

use crate::access::{LocalStage, Operation};
use crate::envelope::{Payload, Request, Selector};
use crate::fault::Fault;
use crate::namespaces::action;
use crate::CallContext;

/// Every class this firmware answers for, one line each: `module::Handler`.
/// The line declares the module (src/classes/<module>.rs) and registers its
/// handler, so a class file cannot exist unregistered, and dispatch, access
/// rules, journal redaction, the property tests and the coverage table in
/// docs/wsman.md all read this one list ([`registry`]). Keep it sorted.
macro_rules! registry {
    ($($module:ident :: $handler:ident,)*) => {
        $(pub mod $module;)*

        static REGISTRY: &[&dyn ClassHandler] = &[$(&$module::$handler),*];

        /// The module names, for the test that every file is registered.
        #[cfg(test)]
        const MODULES: &[&str] = &[$(stringify!($module)),*];
    };
}

registry! {
    amt_8021x_credential_context::Amt8021xCredentialContext,
    amt_8021x_profile::Amt8021xProfile,
    amt_agent_presence_capabilities::AmtAgentPresenceCapabilities,
    amt_agent_presence_watchdog::AmtAgentPresenceWatchdog,
    amt_agent_presence_watchdog_action::AmtAgentPresenceWatchdogAction,
    amt_alarm_clock_service::AmtAlarmClockService,
    amt_audit_log::AmtAuditLog,
    amt_audit_policy_rule::AmtAuditPolicyRule,
    amt_authorization_service::AmtAuthorizationService,
    amt_boot_capabilities::AmtBootCapabilities,
    amt_boot_setting_data::AmtBootSettingData,
    amt_cryptographic_capabilities::AmtCryptographicCapabilities,
    amt_environment_detection_setting_data::AmtEnvironmentDetectionSettingData,
    amt_ethernet_port_settings::AmtEthernetPortSettings,
    amt_general_settings::AmtGeneralSettings,
    amt_management_presence_remote_sap::AmtManagementPresenceRemoteSap,
    amt_message_log::AmtMessageLog,
    amt_mps_username_password::AmtMpsUsernamePassword,
    amt_provisioning_certificate_hash::AmtProvisioningCertificateHash,
    amt_public_key_certificate::AmtPublicKeyCertificate,
    amt_public_key_management_service::AmtPublicKeyManagementService,
    amt_public_private_key_pair::AmtPublicPrivateKeyPair,
    amt_redirection_service::AmtRedirectionService,
    amt_remote_access_credential_context::AmtRemoteAccessCredentialContext,
    amt_remote_access_policy_applies_to_mps::AmtRemoteAccessPolicyAppliesToMps,
    amt_remote_access_policy_rule::AmtRemoteAccessPolicyRule,
    amt_remote_access_service::AmtRemoteAccessService,
    amt_setup_and_configuration_service::AmtSetupAndConfigurationService,
    amt_state_transition_condition::AmtStateTransitionCondition,
    amt_system_power_scheme::AmtSystemPowerScheme,
    amt_time_synchronization_service::AmtTimeSynchronizationService,
    amt_tls_credential_context::AmtTlsCredentialContext,
    amt_tls_protocol_endpoint_collection::AmtTlsProtocolEndpointCollection,
    amt_tls_setting_data::AmtTlsSettingData,
    amt_user_initiated_connection_service::AmtUserInitiatedConnectionService,
    amt_wifi_port_configuration_service::AmtWiFiPortConfigurationService,
    cim_associated_power_management_service::CimAssociatedPowerManagementService,
    cim_battery::CimBattery,
    cim_bios_element::CimBiosElement,
    cim_boot_config_setting::CimBootConfigSetting,
    cim_boot_service::CimBootService,
    cim_boot_source_setting::CimBootSourceSetting,
    cim_card::CimCard,
    cim_chassis::CimChassis,
    cim_chip::CimChip,
    cim_computer_system::CimComputerSystem,
    cim_computer_system_package::CimComputerSystemPackage,
    cim_concrete_dependency::CimConcreteDependency,
    cim_credential_context::CimCredentialContext,
    cim_element_setting_data::CimElementSettingData,
    cim_filter_collection::CimFilterCollection,
    cim_filter_collection_subscription::CimFilterCollectionSubscription,
    cim_kvm_redirection_sap::CimKvmRedirectionSap,
    cim_listener_destination::CimListenerDestination,
    cim_listener_destination_ws_management::CimListenerDestinationWsManagement,
    cim_media_access_device::CimMediaAccessDevice,
    cim_physical_memory::CimPhysicalMemory,
    cim_physical_package::CimPhysicalPackage,
    cim_power_management_capabilities::CimPowerManagementCapabilities,
    cim_power_management_service::CimPowerManagementService,
    cim_processor::CimProcessor,
    cim_service_available_to_element::CimServiceAvailableToElement,
    cim_software_identity::CimSoftwareIdentity,
    cim_system_packaging::CimSystemPackaging,
    cim_wifi_endpoint_settings::CimWiFiEndpointSettings,
    cim_wifi_port::CimWiFiPort,
    ips_alarm_clock_occurrence::IpsAlarmClockOccurrence,
    ips_host_based_setup_service::IpsHostBasedSetupService,
    ips_http_proxy_access_point::IpsHttpProxyAccessPoint,
    ips_http_proxy_service::IpsHttpProxyService,
    ips_ieee8021x_settings::IpsIeee8021xSettings,
    ips_ipv6_port_settings::IpsIpv6PortSettings,
    ips_kvm_redirection_setting_data::IpsKvmRedirectionSettingData,
    ips_opt_in_service::IpsOptInService,
    ips_power_management_service::IpsPowerManagementService,
    ips_provisioning_record_log::IpsProvisioningRecordLog,
    ips_screen_configuration_service::IpsScreenConfigurationService,
    ips_screen_setting_data::IpsScreenSettingData,
}

/// Every registered class, in registry order.
pub fn registry() -> &'static [&'static dyn ClassHandler] {
    REGISTRY
}

/// The handler for a ResourceURI.
pub fn class_for(resource_uri: &str) -> Option<&'static dyn ClassHandler> {
    REGISTRY
        .iter()
        .copied()
        .find(|c| c.info().resource_uri == resource_uri)
}

/// The class a WS-Eventing Subscribe/Unsubscribe addresses when its
/// ResourceURI names no class of its own (MeshCommander subscribes to the
/// wildcard `http://schemas.dmtf.org/wbem/wscim/1/*`, or to the filter
/// collection): the subscription class.
pub fn eventing_target(action_uri: &str, resource_uri: &str) -> Option<&'static dyn ClassHandler> {
    let eventing = [
        crate::namespaces::action::SUBSCRIBE,
        crate::namespaces::action::UNSUBSCRIBE,
    ];
    let addressed = [
        cim_filter_collection_subscription::WILDCARD_URI,
        cim_filter_collection::RESOURCE_URI,
    ];
    (eventing.contains(&action_uri) && addressed.contains(&resource_uri)).then_some(
        &cim_filter_collection_subscription::CimFilterCollectionSubscription as &dyn ClassHandler,
    )
}

/// Every element name some class declares secret (journal redaction).
pub fn secret_parameters() -> impl Iterator<Item = &'static str> {
    REGISTRY
        .iter()
        .flat_map(|c| c.secret_parameters().iter().copied())
}

/// The keys every AMT `*Service` singleton carries.
pub const SYSTEM_CREATION_CLASS_NAME: &str = "CIM_ComputerSystem";
pub const SYSTEM_NAME: &str = "Intel(r) AMT";

/// What the renderer needs to know about a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    /// The class name: the element name of an instance.
    pub name: &'static str,
    /// The ResourceURI, which is also the namespace of instance elements.
    pub resource_uri: &'static str,
    /// Whether AMT declares the WS-CIM common namespace next to this
    /// class's instances (it does for some classes and not others; the
    /// captures show which).
    pub declares_common_namespace: bool,
}

/// A property value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    /// An array property: one element per value.
    List(Vec<String>),
    /// An EPR-valued property or method output (`KeyPair`, `CreatedCertificate`).
    Reference(Reference),
    /// A `cim:dateTime` property: one `Datetime` element in the WS-CIM
    /// common namespace (`CIM_BIOSElement.ReleaseDate`).
    Datetime(String),
}

/// An endpoint reference to an instance, as AMT writes it in output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub resource_uri: String,
    pub selectors: Vec<(String, String)>,
    /// EPR-valued selectors (the keys of an association such as
    /// `AMT_TLSCredentialContext`), written after the text ones.
    pub reference_selectors: Vec<(String, Reference)>,
}

/// One instance of a class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    /// Properties in the order the firmware writes them.
    pub properties: Vec<(&'static str, Value)>,
    /// The selectors that address this instance (its keys).
    pub keys: Vec<(&'static str, String)>,
    /// EPR-valued keys (associations), after the text keys.
    pub reference_keys: Vec<(&'static str, Reference)>,
    /// The instance's own class when it belongs to a subclass of the class
    /// enumerated: a parent-class pull lists subclass-typed items
    /// (DSP0227: a class enumeration lists subclass instances; `AMT_TLSCredentialContext` in `CIM_CredentialContext`).
    pub subclass: Option<ClassInfo>,
}

impl Instance {
    pub fn new() -> Self {
        Instance::default()
    }

    /// Appends a property.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.properties.push((name, Value::Text(value.to_string())));
        self
    }

    /// Appends a property when there is a value.
    pub fn with_opt(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    /// Appends an array property (nothing when empty, as AMT omits it).
    pub fn with_list(mut self, name: &'static str, values: Vec<String>) -> Self {
        if !values.is_empty() {
            self.properties.push((name, Value::List(values)));
        }
        self
    }

    /// The four keys of every AMT `*Service` singleton (the selectors a
    /// console may send even though singletons need none).
    pub fn service_keys(self, class: &'static str, name: &'static str) -> Self {
        self.key("CreationClassName", class)
            .key("Name", name)
            .key("SystemCreationClassName", SYSTEM_CREATION_CLASS_NAME)
            .key("SystemName", SYSTEM_NAME)
    }

    /// Declares a key selector.
    pub fn key(mut self, name: &'static str, value: impl ToString) -> Self {
        self.keys.push((name, value.to_string()));
        self
    }

    /// Declares an EPR-valued key selector (association instances).
    pub fn reference_key(mut self, name: &'static str, value: Reference) -> Self {
        self.reference_keys.push((name, value));
        self
    }

    /// Marks the instance as one of `class`, a subclass of the class being
    /// enumerated: it is then written as that class's element, in its
    /// namespace, and its EPR names that class's ResourceURI.
    pub fn as_subclass(mut self, class: ClassInfo) -> Self {
        self.subclass = Some(class);
        self
    }

    /// The text of a property.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.properties.iter().find_map(|(n, v)| match v {
            Value::Text(t) if *n == name => Some(t.as_str()),
            _ => None,
        })
    }
}

pub use crate::checks::bool_text;

/// The result of an operation that may change the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<T> {
    pub value: T,
    /// Whether persisted device state changed (the server then writes flash).
    pub device_changed: bool,
}

/// The output of a method: out parameters (then `ReturnValue`, last).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodOutput {
    pub parameters: Vec<(&'static str, Value)>,
}

/// One AMT/IPS/CIM class.
pub trait ClassHandler: Sync {
    fn info(&self) -> ClassInfo;

    /// Singletons are addressed without selectors.
    fn is_singleton(&self) -> bool {
        false
    }

    /// What the local system account `$$OsAdmin` may do here, before and
    /// after provisioning completes (`admin` may do everything; see
    /// [`crate::access`]). Nothing, unless the class says otherwise.
    fn local_access(&self, _stage: LocalStage, _op: Operation<'_>) -> bool {
        false
    }

    /// The realm `op` belongs to: a user ACL entry needs it to call `op`
    /// (`admin` holds every realm). PT Administration unless the class
    /// says otherwise.
    fn realm(&self, _op: Operation<'_>) -> Realm {
        Realm::PtAdministration
    }

    /// Names of the elements of this class's input (method parameters,
    /// Put bodies) whose content is secret: the journal masks them.
    fn secret_parameters(&self) -> &'static [&'static str] {
        &[]
    }

    /// Every instance, in the order the firmware enumerates them.
    fn instances(&self, device: &Device) -> Result<Vec<Instance>, Fault>;

    /// Get: the instance the selectors name.
    fn get(&self, device: &Device, selectors: &[Selector]) -> Result<Instance, Fault> {
        select(self.instances(device)?, selectors, self.is_singleton())
    }

    /// Put: replaces the selected instance; answers the stored instance.
    fn put(
        &self,
        _device: &mut Device,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Instance>, Fault> {
        Err(Fault::ActionNotSupported(action::PUT.to_string()))
    }

    /// Create: answers the new instance's reference.
    fn create(
        &self,
        _device: &mut Device,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<Reference>, Fault> {
        Err(Fault::ActionNotSupported(action::CREATE.to_string()))
    }

    fn delete(
        &self,
        _device: &mut Device,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<()>, Fault> {
        Err(Fault::ActionNotSupported(action::DELETE.to_string()))
    }

    /// An extrinsic method. `input` is the `*_INPUT` element, if any.
    fn invoke(
        &self,
        _device: &mut Device,
        method: &str,
        _input: Option<&Payload>,
        _request: &Request,
        _ctx: &CallContext,
    ) -> Result<Outcome<MethodOutput>, Fault> {
        Err(Fault::unknown_method(self.info().resource_uri, method))
    }
}

/// Picks the instance `selectors` name.
///
/// Rules: wsl's `__cimnamespace` selector is ignored; every other selector
/// must be a key of the instance and match its value. A singleton may be
/// addressed with no selectors or a partial key set (amtctrl sends `Name`
/// only); a multi-instance class needs every key.
pub fn select(
    instances: Vec<Instance>,
    selectors: &[Selector],
    singleton: bool,
) -> Result<Instance, Fault> {
    let given: Vec<&Selector> = selectors
        .iter()
        .filter(|s| s.name != "__cimnamespace")
        .collect();
    let matches = |inst: &Instance| {
        given.iter().all(|s| {
            inst.keys
                .iter()
                .any(|(k, v)| *k == s.name && s.text().map(str::trim) == Some(v.as_str()))
        }) && (singleton
            || inst
                .keys
                .iter()
                .all(|(k, _)| given.iter().any(|s| s.name == *k)))
    };
    let mut found = instances.into_iter().filter(matches);
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(Fault::InvalidSelectors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::SelectorValue;

    #[test]
    fn every_class_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/classes");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
            .filter(|n| n != "mod")
            .collect();
        files.sort();
        let mut modules: Vec<&str> = MODULES.to_vec();
        modules.sort_unstable();
        assert_eq!(files, modules, "src/classes/*.rs and the registry differ");
        assert_eq!(MODULES.len(), REGISTRY.len());
    }

    #[test]
    fn the_registry_is_consistent() {
        let mut names = Vec::new();
        for c in registry() {
            let info = c.info();
            assert!(info.resource_uri.ends_with(info.name), "{}", info.name);
            assert_eq!(class_for(info.resource_uri).map(|h| h.info()), Some(info));
            names.push(info.name);
        }
        let mut sorted = names.clone();
        sorted.sort_unstable_by_key(|n| n.to_ascii_lowercase());
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a class is registered twice");
        assert!(class_for("http://intel.com/wbem/wscim/1/amt-schema/1/AMT_Nope").is_none());
    }

    fn sel(name: &str, value: &str) -> Selector {
        Selector {
            name: name.into(),
            value: SelectorValue::Text(value.into()),
        }
    }

    fn two() -> Vec<Instance> {
        vec![
            Instance::new()
                .with("InstanceID", "A")
                .key("InstanceID", "A"),
            Instance::new()
                .with("InstanceID", "B")
                .key("InstanceID", "B"),
        ]
    }

    #[test]
    fn multi_instance_classes_need_their_key() {
        assert_eq!(
            select(two(), &[sel("InstanceID", "B")], false)
                .unwrap()
                .text("InstanceID"),
            Some("B")
        );
        assert_eq!(select(two(), &[], false), Err(Fault::InvalidSelectors));
        assert_eq!(
            select(two(), &[sel("InstanceID", "C")], false),
            Err(Fault::InvalidSelectors)
        );
        assert_eq!(
            select(two(), &[sel("Bogus", "A")], false),
            Err(Fault::InvalidSelectors)
        );
    }

    #[test]
    fn singletons_take_none_or_partial_selectors() {
        let one = || {
            vec![Instance::new()
                .key("CreationClassName", "X")
                .key("Name", "N")]
        };
        assert!(select(one(), &[], true).is_ok());
        assert!(select(one(), &[sel("Name", "N")], true).is_ok());
        assert!(select(one(), &[sel("__cimnamespace", "interop")], true).is_ok());
        assert_eq!(
            select(one(), &[sel("Name", "other")], true),
            Err(Fault::InvalidSelectors)
        );
    }
}
