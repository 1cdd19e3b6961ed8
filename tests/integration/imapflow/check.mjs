// imapflow against Localpost's IMAP gateway: log in, list, select INBOX, fetch the
// envelopes of the last 10 messages, flag the newest, append one message, search for
// it, move it to Trash, and print what it saw as JSON.
// Run by tests/integration/test_imap_clients.py: node check.mjs HOST PORT USER PASS
import { ImapFlow } from "imapflow";

const [host, port, user, pass] = process.argv.slice(2);
const client = new ImapFlow({
    host,
    port: Number(port),
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass },
    logger: false,
    // ENABLE QRESYNC: expunges then come as VANISHED (RFC 7162 §3.2.10).
    qresync: true,
});

const appended = [
    "From: Node <node@example.org>",
    `To: ${user}`,
    "Subject: appended by imapflow",
    "Date: Mon, 7 Dec 2026 10:00:00 +0000",
    "",
    "Hello from Node.",
    "",
].join("\r\n");

await client.connect();
const folders = (await client.list()).map((f) => f.path);
const lock = await client.getMailboxLock("INBOX");
let report;
try {
    const exists = client.mailbox.exists;
    const envelopes = [];
    for await (const msg of client.fetch(`${Math.max(1, exists - 9)}:*`, { envelope: true, uid: true })) {
        envelopes.push({ uid: msg.uid, subject: msg.envelope.subject });
    }
    const newest = envelopes[envelopes.length - 1].uid;
    await client.messageFlagsAdd(String(newest), ["\\Flagged"], { uid: true });

    const added = await client.append("INBOX", appended, ["\\Seen"]);
    const found = await client.search({ subject: "appended by imapflow" }, { uid: true });
    const moved = await client.messageMove(found.join(","), "Trash", { uid: true });
    report = {
        folders,
        exists,
        envelopes,
        flagged_uid: newest,
        appended_uid: added.uid,
        found,
        moved_to: moved.destination,
        exists_after: client.mailbox.exists,
    };
} finally {
    lock.release();
}
const trash = await client.status("Trash", { messages: true });
report.trash_messages = trash.messages;
report.enabled = [...client.enabled];
await client.logout();
process.stdout.write(JSON.stringify(report) + "\n");
