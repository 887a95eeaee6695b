# Phone assistant: Twilio → this Deno server → OpenAI Realtime.
# Build: docker build -t phone-assistant .
# Run:   docker run --env-file .env -p 5050:5050 -v assistant-kv:/data \
#          --stop-timeout 30 phone-assistant
# See docs/deploying.md. tests/deploy_files_test.ts runs this image's CMD locally.

# Official image, pinned to the Deno version this project is developed on.
FROM denoland/deno:2.9.6

WORKDIR /app

# The KV store (single-use stream tokens) lives on a volume owned by `deno`.
RUN mkdir -p /data && chown deno:deno /data

# Build and run as the image's non-root user, so DENO_DIR (/deno-dir) holds
# caches that user can update.
USER deno

# Dependency manifests first, then the source, then the whole module graph
# cached in DENO_DIR at build time, so nothing is fetched when it starts.
COPY --chown=deno:deno deno.json deno.lock ./
COPY --chown=deno:deno main.ts ./
COPY --chown=deno:deno src/ ./src/
RUN deno cache main.ts

VOLUME /data
ENV KV_PATH=/data/assistant.kv \
    PORT=5050

EXPOSE 5050

# No curl in the image: `deno eval` (which has every permission) asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD deno eval "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') || '5050') + '/healthz'); const b = await r.json(); Deno.exit(r.ok && b.status === 'ok' ? 0 : 1);"

# The entrypoint prefixes `deno`. The flags are deno.json's `start` task's (a
# test keeps them identical), except that the task's data folder ./data is the
# /data volume here: read/write for the KV directory only. Docker stops with
# SIGTERM: the server drains live calls for DRAIN_SECONDS (20 by default), so
# give `docker stop` more than that.
CMD ["run", "--v8-flags=--max-semi-space-size=2", "--allow-net=0.0.0.0,api.openai.com:443,mcp.zapier.com:443,api.twilio.com:443", "--allow-env=OPENAI_API_KEY,TWILIO_AUTH_TOKEN,CALLER_PIN,CALLER_PIN_SKIP_VERIFIED,ALLOWED_NUMBERS,PUBLIC_URL,PORT,KV_PATH,DRAIN_SECONDS,MAX_CONCURRENT_CALLS,MAX_CALL_MINUTES,STREAM_START_TIMEOUT_SECONDS,STREAM_TOKEN_TTL_SECONDS,VOICE_ENGINE,VOICE,ASSISTANT_INSTRUCTIONS,TEMPERATURE,GREETING,ASSISTANT_TIMEZONE,THINKING_SOUND,OPENAI_REALTIME_URL,OPENAI_REALTIME_MODEL,REASONING_EFFORT,OPENAI_LIVE_URL,LIVE_MODEL,LIVE_BACKEND_MODEL,ZAPIER_MCP_URL,ZAPIER_MCP_PASSWORD,ZAPIER_MCP_ALLOWED_TOOLS,ZAPIER_MCP_TIMEOUT_SECONDS,ADMIN_TOKEN,JOURNAL_RETENTION_DAYS,JOURNAL_TRANSCRIPTS,MEMORY,MEMORY_DAYS,SUMMARY_MODEL,PRICES_JSON,DAILY_BUDGET_USD,OWNER_NUMBERS,TWILIO_ACCOUNT_SID,TWILIO_FROM_NUMBER,TWILIO_API_URL,BRIEFING_AT,BRIEFING_DAYS,CALLBACK_RETRY_MINUTES,DIGEST_SMS,SCHEDULED_CALLS_MAX_PENDING,SCHEDULED_CALLS_MAX_PER_DAY,SCHEDULED_CALLS_MIN_GAP_MINUTES,DENO_KV_ACCESS_TOKEN", "--allow-read=/data", "--allow-write=/data", "main.ts"]
