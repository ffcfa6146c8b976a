// Callbacks and references in the web demo: a long job reports progress through a function this page
// hands to the server; a chat room calls this page for each message, and joining returns a live
// membership object (a server reference) that says things and, disposed, leaves the room.
import { callback } from './uplink.js';

const $ = (id) => document.getElementById(id);

export function setupCallbacks(getClient, describe) {
  $('job-run').addEventListener('click', async () => {
    const steps = Math.max(1, Math.min(100, Number($('job-steps').value) || 10));
    $('job-run').disabled = true;
    $('job-progress').value = 0;
    $('job-result').textContent = 'running…';
    const progress = callback((percent) => {
      $('job-progress').value = percent;
      $('job-percent').textContent = `${percent} %`;
    });
    try {
      $('job-result').textContent = await getClient().proxy('jobs').run(steps, progress, { timeoutMs: 60_000 });
    } catch (error) {
      $('job-result').textContent = describe(error);
    } finally {
      getClient()?.release(progress); // the job is over: the server may forget the function
      $('job-run').disabled = false;
    }
  });

  let membership; // RemoteRef<Membership> while in the room
  const show = (message) => {
    const li = document.createElement('li');
    const from = document.createElement('b');
    from.textContent = message.from;
    li.append(from, ` ${message.text}`);
    li.dataset.from = message.from;
    $('chat-log').append(li);
    while ($('chat-log').children.length > 50) $('chat-log').firstChild.remove();
  };
  const setJoined = (joined) => {
    $('chat-join').disabled = joined;
    $('chat-leave').disabled = !joined;
    $('chat-send').disabled = !joined;
    $('chat-state').textContent = joined ? `in the room as ${membership ? '' : '…'}` : 'not in the room';
  };

  $('chat-join').addEventListener('click', async () => {
    $('chat-join').disabled = true;
    try {
      membership = await getClient().proxy('chat').join(callback(show));
      setJoined(true);
      $('chat-state').textContent = `in the room as ${await membership.$get('who')}`;
    } catch (error) {
      $('chat-state').textContent = describe(error);
      setJoined(false);
    }
  });

  $('chat-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('chat-text').value.trim();
    if (!text || !membership) return;
    $('chat-text').value = '';
    try {
      await membership.say(text);
    } catch (error) {
      $('chat-state').textContent = describe(error);
      if (!membership.$live) setJoined(false);
    }
  });

  $('chat-leave').addEventListener('click', async () => {
    const leaving = membership;
    membership = undefined;
    await leaving?.[Symbol.asyncDispose]();
    setJoined(false);
  });
}
