# Shortcuts for local development. See docs/deploying.md.

PORT ?= 5050
TUNNEL_CONFIG ?= $(HOME)/.cloudflared/assistant.yml

.PHONY: dev test tunnel-quick tunnel

# The server with .env, restarting on changes.
dev:
	deno task dev

test:
	deno task test

# A throwaway https://<random>.trycloudflare.com URL to the local server (no account).
tunnel-quick:
	cloudflared tunnel --url http://localhost:$(PORT)

# Your named tunnel (fixed hostname); see cloudflared/assistant.example.yml.
tunnel:
	cloudflared tunnel --config $(TUNNEL_CONFIG) run
