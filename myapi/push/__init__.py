"""Push notifications: devices, preferences and the delivery of new notifications."""
