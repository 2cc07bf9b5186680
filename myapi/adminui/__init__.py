"""The operators' web console (`/admin/ui`): static HTML, JavaScript modules and CSS
served by the app itself (no CDN, no build step). Every figure it shows comes from the
guarded `/admin` JSON API, called with the operator's bearer token."""
