/**
 * The credentials the peers expect and sign with by default: the OpenAI key
 * the simulators accept as a bearer token, and the Twilio auth token the
 * simulated edge signs webhooks and stream handshakes with. Tests, the
 * bench and the soak give the server under test the same two values.
 *
 * @module
 */

export const TEST_AUTH_TOKEN = "twilio-auth-token-for-tests";
export const TEST_API_KEY = "sk-test-openai-key";
