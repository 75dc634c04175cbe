"""Small readers of an engine's page state shared by the race and swap tests."""
from pymemcg import PTE_PRESENT, PTE_SHIFT, PTE_SWAP


def pfn_of(t, vpn):
    pte = t.pte(vpn)
    assert pte & PTE_PRESENT, f"vpn {vpn} is not present (pte {pte:#x})"
    return pte >> PTE_SHIFT


def slot_of(t, vpn):
    pte = t.pte(vpn)
    assert pte & PTE_SWAP, f"vpn {vpn} holds no swap entry (pte {pte:#x})"
    return pte >> PTE_SHIFT


def flags(eng, pfn):
    return int(eng.pages.flags[pfn])
