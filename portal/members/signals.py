"""The member libraries' own signals (plugins hear them through ``portal.signals``)."""

from django.dispatch import Signal

# Memberships were written in bulk without their per-row signals (the demo seeder), or a
# role's permissions changed, and the grants were re-synced: whatever a receiver keeps in
# step with what people may do (admin groups, say) should be rebuilt. kwargs user_ids.
memberships_rebuilt = Signal()
