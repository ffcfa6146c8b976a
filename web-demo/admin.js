// The admin view: what `$admin` (served only to tokens with the admin scope) reports about this
// gateway, refreshed every two seconds while it is shown, and revoking a subject.
const $ = (id) => document.getElementById(id);

function table(target, columns, rows) {
  const head = document.createElement('tr');
  for (const [, title] of columns) {
    const th = document.createElement('th');
    th.textContent = title;
    head.append(th);
  }
  const body = rows.map((row) => {
    const tr = document.createElement('tr');
    for (const [key] of columns) {
      const td = document.createElement('td');
      td.textContent = row[key] === null || row[key] === undefined ? '–' : String(row[key]);
      tr.append(td);
    }
    return tr;
  });
  target.replaceChildren(head, ...body);
}

export function setupAdmin(getClient, describe) {
  let timer;

  async function refresh() {
    const admin = getClient()?.proxy('$admin');
    if (!admin) return;
    try {
      const [summary, connections, members, streams] = await Promise.all([admin.summary(), admin.connections(), admin.members(), admin.streams()]);
      $('admin-summary').textContent = `${summary.connections} connections · ${summary.streams} streams · up ${summary.uptimeSec} s`;
      table($('admin-connections'), [['id', 'id'], ['subject', 'subject'], ['address', 'address'], ['ageSec', 'age s'], ['calls', 'calls'], ['inflight', 'in flight'], ['streams', 'streams'], ['bytesIn', 'bytes in'], ['bytesOut', 'bytes out']], connections);
      table($('admin-members'), [['object', 'object'], ['member', 'member'], ['calls', 'calls'], ['errors', 'errors'], ['meanMs', 'mean ms']], members);
      table($('admin-streams'), [['object', 'object'], ['member', 'member'], ['subject', 'subject'], ['state', 'state'], ['sent', 'sent'], ['acked', 'acked'], ['upTo', 'credit up to'], ['replayBytes', 'replay bytes']], streams);
    } catch (error) {
      $('admin-summary').textContent = describe(error);
    }
  }

  /** Shows the view when this caller may use `$admin` (the gateway lists it only then). */
  return (objectIds) => {
    const visible = objectIds.includes('$admin');
    $('admin-view').hidden = !visible;
    clearInterval(timer);
    if (!visible) return;
    void refresh();
    timer = setInterval(refresh, 2_000);
  };
}

export function setupRevoke(getClient, describe) {
  $('revoke-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const subject = $('revoke-subject').value.trim();
    if (!subject) return;
    try {
      const closed = await getClient().proxy('$admin').revoke(subject);
      $('revoke-result').textContent = `revoked ${subject}: ${closed} connection${closed === 1 ? '' : 's'} closed`;
    } catch (error) {
      $('revoke-result').textContent = describe(error);
    }
  });
}
