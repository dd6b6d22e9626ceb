// A defender on Element's own crypto stack: matrix-js-sdk with its Rust crypto (WebAssembly),
// cross-signing bootstrapped and OnlySignedDevicesIsolationMode set, as Element has required
// since April 2026. Driven by tests/support/element_defender.py over stdin/stdout, one JSON
// object per line:
//   in:  {"id": 1, "cmd": "login", ...}            out: {"id": 1, "ok": true, ...} or {"id": 1, "error": "..."}
//   out: {"event": "message", "room": ..., "sender": ..., "body": ..., "msgtype": ..., "event_id": ...}
//        {"event": "undecryptable", "room": ..., "sender": ..., "reason": ...}
//        {"event": "invite", "room": ...}
// Only 127.0.0.1 is ever contacted: the base URL comes from the test's own Synapse.
import { createHash, createCipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

import * as sdk from "matrix-js-sdk";
import { OnlySignedDevicesIsolationMode } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel("error");

let client = null;
let me = null;
let password = null;

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

function unpadded(buf) {
    return buf.toString("base64").replace(/=+$/, "");
}

function urlsafe(buf) {
    return unpadded(buf).replace(/\+/g, "-").replace(/\//g, "_");
}

async function authUpload(makeRequest) {
    // The server may let a first upload through without auth (MSC3967); otherwise it asks.
    try {
        await makeRequest(null);
    } catch (err) {
        if (err.httpStatus !== 401 || !err.data || !err.data.session) throw err;
        await makeRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: me },
            password,
            session: err.data.session,
        });
    }
}

async function report(event) {
    const room = event.getRoomId();
    if (event.isEncrypted()) await client.decryptEventIfNeeded(event);
    if (event.getSender() === me) return;
    if (event.isDecryptionFailure()) {
        emit({ event: "undecryptable", room, sender: event.getSender(), reason: String(event.decryptionFailureReason) });
        return;
    }
    if (event.getType() !== "m.room.message") return;
    const content = event.getContent();
    if (typeof content.body !== "string") return;
    emit({ event: "message", room, sender: event.getSender(), body: content.body, msgtype: content.msgtype || "", event_id: event.getId() });
}

const commands = {
    async login({ base_url, user_id, password: pw, device_name }) {
        if (!base_url.startsWith("http://127.0.0.1:")) throw new Error("loopback only");
        me = user_id;
        password = pw;
        const anonymous = sdk.createClient({ baseUrl: base_url });
        const login = await anonymous.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: user_id },
            password: pw,
            initial_device_display_name: device_name || "Element",
        });
        client = sdk.createClient({ baseUrl: base_url, userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
        await client.initRustCrypto({ useIndexedDB: false });
        const crypto = client.getCrypto();
        await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: authUpload });
        crypto.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
        client.on(sdk.RoomEvent.Timeline, (event, _room, toStart) => {
            if (!toStart) report(event).catch((err) => emit({ event: "error", error: String(err) }));
        });
        client.on(sdk.RoomMemberEvent.Membership, (_event, member) => {
            if (member.userId === me && member.membership === "invite") emit({ event: "invite", room: member.roomId });
        });
        const ready = new Promise((resolve) => {
            client.on(sdk.ClientEvent.Sync, (state) => { if (state === "PREPARED") resolve(); });
        });
        await client.startClient({ initialSyncLimit: 0, lazyLoadMembers: false });
        await ready;
        return { user_id: login.user_id, device_id: login.device_id, cross_signing_ready: await crypto.isCrossSigningReady() };
    },

    async create_dm({ invite }) {
        const created = await client.createRoom({
            is_direct: true,
            preset: "trusted_private_chat",
            invite: [invite],
            initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
        });
        return { room: created.room_id };
    },

    async join({ room }) {
        await client.joinRoom(room);
        return {};
    },

    async members({ room }) {
        const r = client.getRoom(room);
        return { joined: r ? r.getJoinedMembers().map((m) => m.userId) : [] };
    },

    async send_text({ room, text }) {
        const sent = await client.sendMessage(room, { msgtype: "m.text", body: text });
        return { event_id: sent.event_id };
    },

    async send_image({ room, path, name, mimetype }) {
        // As Element encrypts an attachment: AES-256-CTR, a random key and IV, SHA-256 of the ciphertext.
        const data = readFileSync(path);
        const key = randomBytes(32);
        const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
        const cipher = createCipheriv("aes-256-ctr", key, iv);
        const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
        const upload = await client.uploadContent(ciphertext, { type: "application/octet-stream", includeFilename: false });
        const file = {
            v: "v2",
            url: upload.content_uri,
            mimetype,
            key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: urlsafe(key), ext: true },
            iv: unpadded(iv),
            hashes: { sha256: unpadded(createHash("sha256").update(ciphertext).digest()) },
        };
        const content = { msgtype: "m.image", body: name, info: { mimetype, size: data.length }, file };
        const sent = await client.sendMessage(room, content);
        return { event_id: sent.event_id };
    },

    async identity({ user }) {
        // What this client believes of another user's identity and devices.
        const crypto = client.getCrypto();
        const status = await crypto.getUserVerificationStatus(user);
        const devices = (await crypto.getUserDeviceInfo([user], true)).get(user) || new Map();
        const signed = [];
        for (const id of devices.keys()) {
            const v = await crypto.getDeviceVerificationStatus(user, id);
            if (v && v.signedByOwner) signed.push(id);
        }
        return { cross_signing_verified: status.isCrossSigningVerified(), devices: [...devices.keys()], signed_by_owner: signed };
    },

    async stop() {
        if (client) client.stopClient();
        setTimeout(() => process.exit(0), 50);
        return {};
    },
};

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
    let request;
    try {
        request = JSON.parse(line);
    } catch {
        return;
    }
    const { id, cmd } = request;
    try {
        const result = await commands[cmd](request);
        emit({ id, ok: true, ...result });
    } catch (err) {
        emit({ id, error: String(err && err.stack ? err.stack : err) });
    }
});
lines.on("close", () => {
    if (client) client.stopClient();
    process.exit(0);
});
