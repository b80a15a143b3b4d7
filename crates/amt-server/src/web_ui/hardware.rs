//! The Hardware Information pages (`hw-sys.htm`, `hw-proc.htm`,
//! `hw-mem.htm`, `hw-disk.htm`, `hw-batt.htm`), from the inventory the
//! WS-Man CIM classes report.

use amt_device::Device;

use super::layout::{page, rows, subheading};

pub fn system(device: &Device) -> String {
    let inv = device.hardware();
    let mut body = subheading("Computer System");
    body.push_str(&rows(&[
        (
            "sys-manufacturer",
            "Manufacturer",
            inv.chassis.manufacturer.clone(),
        ),
        ("sys-model", "Model", inv.chassis.model.clone()),
        ("sys-version", "Version", inv.chassis.version.clone()),
        (
            "sys-serial",
            "Serial number",
            inv.chassis.serial_number.clone(),
        ),
        ("system-id", "System ID", device.uuid()),
    ]));
    body.push_str(&subheading("Baseboard"));
    body.push_str(&rows(&[
        (
            "board-manufacturer",
            "Manufacturer",
            inv.board.manufacturer.clone(),
        ),
        ("board-product", "Product name", inv.board.model.clone()),
        ("board-version", "Version", inv.board.version.clone()),
        (
            "board-serial",
            "Serial number",
            inv.board.serial_number.clone(),
        ),
    ]));
    body.push_str(&subheading("BIOS"));
    body.push_str(&rows(&[
        ("bios-vendor", "Vendor", inv.bios.manufacturer.clone()),
        ("bios-version", "Version", inv.bios.version.clone()),
        ("bios-date", "Release date", inv.bios.release_date.clone()),
    ]));
    page(device, "System", &body)
}

pub fn processors(device: &Device) -> String {
    let inv = device.hardware();
    let mut body = String::new();
    for (i, p) in inv.processors.iter().enumerate() {
        body.push_str(&subheading(&format!("Processor {}", i + 1)));
        body.push_str(&rows(&[
            ("", "Manufacturer", p.manufacturer.clone()),
            ("", "Version", p.version.clone()),
            (
                "",
                "Maximum clock speed",
                format!("{} MHz", p.max_clock_speed),
            ),
            (
                "",
                "Current clock speed",
                format!("{} MHz", p.current_clock_speed),
            ),
            (
                "",
                "External bus clock",
                format!("{} MHz", p.external_bus_clock_speed),
            ),
            ("", "Stepping", p.stepping.to_string()),
        ]));
    }
    if inv.processors.is_empty() {
        body.push_str("<p>No processor information.</p>");
    }
    page(device, "Processor", &body)
}

/// SMBIOS memory type names for the types the model uses.
fn memory_type(t: u16) -> String {
    match t {
        24 => "DDR3".into(),
        26 => "DDR4".into(),
        34 => "DDR5".into(),
        35 => "LPDDR5".into(),
        other => format!("type {other}"),
    }
}

fn form_factor(f: u16) -> String {
    match f {
        8 => "DIMM".into(),
        12 => "SO-DIMM".into(),
        13 => "SODIMM".into(),
        other => format!("form factor {other}"),
    }
}

pub fn memory(device: &Device) -> String {
    let inv = device.hardware();
    let mut body = String::new();
    for m in &inv.memory {
        body.push_str(&subheading(&format!("Module in {}", m.bank_label)));
        body.push_str(&rows(&[
            ("", "Size", format!("{} MB", m.capacity / (1024 * 1024))),
            ("", "Speed", format!("{} MHz", m.configured_speed)),
            ("", "Type", memory_type(m.memory_type)),
            ("", "Form factor", form_factor(m.form_factor)),
            ("", "Manufacturer", m.manufacturer.clone()),
            ("", "Part number", m.part_number.trim().to_string()),
            ("", "Serial number", m.serial_number.clone()),
        ]));
    }
    if inv.memory.is_empty() {
        body.push_str("<p>No memory modules reported.</p>");
    }
    page(device, "Memory", &body)
}

pub fn disks(device: &Device) -> String {
    let inv = device.hardware();
    let mut body = String::new();
    for (i, d) in inv.disks.iter().enumerate() {
        body.push_str(&subheading(&format!("Disk {}", i + 1)));
        body.push_str(&rows(&[(
            "",
            "Maximum media size",
            // CIM_MediaAccessDevice.MaxMediaSize is in kilobytes.
            format!("{} MB", d.max_media_size / 1000),
        )]));
    }
    if inv.disks.is_empty() {
        body.push_str("<p>No disks reported.</p>");
    }
    page(device, "Disk", &body)
}

pub fn battery(device: &Device) -> String {
    let inv = device.hardware();
    let body = match &inv.battery {
        Some(b) => rows(&[
            ("", "Device ID", b.device_id.clone()),
            ("", "Design capacity", format!("{} mWh", b.design_capacity)),
            (
                "",
                "Full charge capacity",
                format!("{} mWh", b.full_charge_capacity),
            ),
            ("", "Design voltage", format!("{} mV", b.design_voltage)),
            (
                "",
                "Charge remaining",
                format!("{} %", b.estimated_charge_remaining),
            ),
        ]),
        None => "<p id=no-battery>This computer has no battery.</p>".into(),
    };
    page(device, "Battery", &body)
}
