use super::*;

fn key(in_port: u32, dst: u32, tp: u16) -> FlowKey {
    FlowKey {
        in_port,
        eth_type: 0x0800,
        ipv4_dst: dst,
        tp_dst: tp,
        ..FlowKey::default()
    }
}

fn mask_port_dst() -> FlowKey {
    FlowKey {
        in_port: u32::MAX,
        ipv4_dst: u32::MAX,
        ..FlowKey::default()
    }
}

#[test]
fn a_megaflow_covers_every_key_equal_under_its_mask() {
    let mut m = Megaflows::new(16);
    m.insert(&key(1, 7, 80), &mask_port_dst(), 1, 1)
        .expect("room");
    assert_eq!(
        m.lookup(&key(1, 7, 443), 1),
        Some(1),
        "tp_dst is wildcarded"
    );
    assert_eq!(m.lookup(&key(1, 8, 80), 1), None, "ipv4_dst is not");
    assert_eq!(m.lookup(&key(2, 7, 80), 1), None, "in_port is not");
    assert_eq!(m.len(), 1);
    assert_eq!(m.subtables(), 1);
}

#[test]
fn another_generation_is_a_miss_and_an_insert_replaces_it_in_place() {
    let mut m = Megaflows::new(16);
    m.insert(&key(1, 7, 80), &mask_port_dst(), 1, 10)
        .expect("room");
    assert_eq!(m.lookup(&key(1, 7, 80), 2), None);
    assert_eq!(m.find(&key(1, 7, 80), 2), Found::Stale);
    assert_eq!(m.find(&key(1, 8, 80), 2), Found::Miss);
    m.insert(&key(1, 7, 9), &mask_port_dst(), 2, 11)
        .expect("room");
    assert_eq!(m.len(), 1, "same mask and masked key: the slot is reused");
    assert_eq!(m.lookup(&key(1, 7, 80), 2), Some(11));
}

#[test]
fn a_stale_entry_does_not_hide_a_fresh_one_in_another_subtable() {
    let mut m = Megaflows::new(16);
    m.insert(&key(1, 7, 80), &mask_port_dst(), 1, 20)
        .expect("room");
    let narrow = FlowKey {
        in_port: u32::MAX,
        ..FlowKey::default()
    };
    m.insert(&key(1, 7, 80), &narrow, 2, 21).expect("room");
    assert_eq!(m.lookup(&key(1, 7, 80), 2), Some(21));
    assert_eq!(m.len(), 2);
    assert_eq!(m.sweep(2), 1);
    assert_eq!((m.len(), m.subtables()), (1, 1));
    assert_eq!(m.lookup(&key(1, 99, 1), 2), Some(21));
}

#[test]
fn a_full_cache_sweeps_stale_entries_then_refuses() {
    let mut m = Megaflows::new(2);
    m.insert(&key(1, 1, 0), &mask_port_dst(), 1, 1)
        .expect("room");
    m.insert(&key(1, 2, 0), &mask_port_dst(), 1, 2)
        .expect("room");
    assert_eq!(
        m.insert(&key(1, 3, 0), &mask_port_dst(), 1, 3),
        Err(Full),
        "all current: refused"
    );
    assert_eq!(m.lookup(&key(1, 3, 0), 1), None);
    assert_eq!(
        (m.len(), m.subtables()),
        (2, 1),
        "no empty subtable left behind"
    );
    m.insert(&key(1, 3, 0), &mask_port_dst(), 2, 3)
        .expect("the stale ones are swept");
    assert_eq!(m.len(), 1);
    assert_eq!(m.lookup(&key(1, 3, 0), 2), Some(3));
}

#[test]
fn sweep_step_goes_on_where_it_stopped() {
    let mut m = Megaflows::new(100);
    for d in 0..10 {
        m.insert(&key(1, d, 0), &mask_port_dst(), 1, d)
            .expect("room");
    }
    let other = FlowKey {
        tp_dst: u16::MAX,
        ..FlowKey::default()
    };
    for t in 0..5 {
        m.insert(&key(1, 0, t), &other, 1, 100 + u32::from(t))
            .expect("room");
    }
    m.insert(&key(1, 3, 0), &mask_port_dst(), 2, 3)
        .expect("room");
    let mut calls = 0;
    while !m.sweep_step(2, 4) {
        calls += 1;
        assert!(calls < 10, "a pass ends");
    }
    assert!(calls >= 3, "15 slots at 4 per call take several calls");
    assert_eq!((m.len(), m.subtables()), (1, 1));
    assert_eq!(m.lookup(&key(1, 3, 0), 2), Some(3));
}

#[test]
fn busiest_subtable_is_probed_first_after_rerank() {
    let mut m = Megaflows::new(100);
    let a = FlowKey {
        tp_dst: u16::MAX,
        ..FlowKey::default()
    };
    m.insert(&key(1, 0, 1), &a, 1, 1).expect("room");
    m.insert(&key(1, 5, 0), &mask_port_dst(), 1, 2)
        .expect("room");
    for _ in 0..10 {
        assert_eq!(m.lookup(&key(1, 5, 0), 1), Some(2));
    }
    m.rerank();
    let masks: Vec<FlowKey> = m.iter().map(|(_, mask, _, _)| mask).collect();
    assert_eq!(masks[0], mask_port_dst());
}

#[test]
fn iter_gives_back_masked_keys() {
    let mut m = Megaflows::new(4);
    m.insert(&key(3, 0x0a00_0001, 80), &mask_port_dst(), 7, 5)
        .expect("room");
    let all: Vec<_> = m.iter().collect();
    assert_eq!(all.len(), 1);
    let (k, mask, g, _) = all[0];
    assert_eq!(k, key(3, 0x0a00_0001, 80).masked(&mask_port_dst()));
    assert_eq!((mask, g), (mask_port_dst(), 7));
}

#[test]
fn a_full_cache_sweeps_once_per_generation() {
    let mut m = Megaflows::new(1);
    m.insert(&key(1, 1, 0), &mask_port_dst(), 1, 1)
        .expect("room");
    assert_eq!(m.insert(&key(1, 2, 0), &mask_port_dst(), 1, 2), Err(Full));
    assert_eq!(
        m.insert(&key(1, 3, 0), &mask_port_dst(), 1, 3),
        Err(Full),
        "no second sweep"
    );
    m.insert(&key(1, 4, 0), &mask_port_dst(), 2, 4)
        .expect("a new generation: the sweep frees the stale one");
    assert_eq!(m.lookup(&key(1, 4, 0), 2), Some(4));
}
