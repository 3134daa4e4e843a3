import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer, type TestUser } from '../../testing/test-server.js';
import { EmailTemplateService } from './service.js';

let server: TestServer;
let admin: TestUser;
beforeEach(async () => {
  server = await createTestServer();
  admin = await server.admin();
});
afterEach(async () => {
  await server.close();
});

function call(method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object) {
  return server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${admin.accessToken}` },
    ...(payload ? { payload } : {}),
  });
}

const german = {
  subject: 'Einladung zu {{site}}',
  text: 'Hallo,\n{{#inviter}}{{inviter}} lädt dich ein.{{/inviter}}\n{{link}}\nGültig bis {{expires_at}}.\n',
  html: '<p>{{#inviter}}{{inviter}} lädt dich ein.{{/inviter}}</p><p><a href="{{link}}">Annehmen</a></p>',
};

async function invitationMail(email: string) {
  const invited = await server.app.inject({
    method: 'POST',
    url: '/users/invite',
    headers: { authorization: `Bearer ${admin.accessToken}` },
    payload: { email, role: 'user' },
  });
  expect(invited.statusCode).toBe(204);
  const outbox = await call('GET', '/outbox');
  return outbox.json().data.find((message: { to: string }) => message.to === email) as {
    subject: string;
    text: string;
    html: string;
  };
}

describe('e-mail templates', () => {
  it('lists the kinds and answers the built-in template with its variables', async () => {
    const list = await call('GET', '/email-templates');
    expect(list.statusCode).toBe(200);
    expect(list.json().data).toContainEqual(expect.objectContaining({ kind: 'invitation', custom_locales: [] }));
    const one = await call('GET', '/email-templates/invitation');
    expect(one.json().data).toMatchObject({ kind: 'invitation', locale: 'en', custom: false });
    expect(Object.keys(one.json().data.variables)).toEqual(['link', 'site', 'inviter', 'expires_at']);
    expect((await call('GET', '/email-templates/no-such-kind')).statusCode).toBe(404);
  });

  it("uses the project's version for new mail, and the built-in one again after a reset", async () => {
    const english = { ...german, subject: 'Join {{site}} today' };
    const stored = await call('PUT', '/email-templates/invitation', english);
    expect(stored.statusCode, stored.body).toBe(200);
    expect(stored.json().data).toMatchObject({ custom: true, subject: 'Join {{site}} today' });
    expect((await invitationMail('first@example.com')).subject).toBe('Join localhost:4000 today');

    expect((await call('DELETE', '/email-templates/invitation')).statusCode).toBe(204);
    expect((await invitationMail('second@example.com')).subject).toBe('You are invited to localhost:4000');
  });

  it('picks a locale through its fallback chain', async () => {
    expect((await call('PUT', '/email-templates/invitation?locale=de', german)).statusCode).toBe(200);
    const list = await call('GET', '/email-templates');
    expect(list.json().data.find((kind: { kind: string }) => kind.kind === 'invitation').custom_locales).toEqual([
      'de',
    ]);
    const templates = new EmailTemplateService(server.database.db, server.clock, server.audit);
    const vars = { link: 'https://x.example/a?token=t', site: 'x.example', inviter: 'Ada', expires_at: 'soon' };
    expect((await templates.render(server.projectId, 'invitation', 'de-AT', vars)).subject).toBe(
      'Einladung zu x.example',
    );
    expect((await templates.render(server.projectId, 'invitation', 'fr', vars)).subject).toBe(
      'Ada invited you to x.example',
    );
  });

  it('escapes values in the HTML of a custom template', async () => {
    await call('PUT', '/email-templates/invitation', german);
    await server.database.db
      .updateTable('users')
      .set({ first_name: '<img src=x onerror=alert(1)>' })
      .where('id', '=', admin.id)
      .execute();
    const mail = await invitationMail('third@example.com');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('refuses a template that cannot be used, and keeps the stored one', async () => {
    await call('PUT', '/email-templates/invitation', german);
    const cases: [object, string][] = [
      [{ ...german, subject: 'Hi {{name}}' }, 'unknown variable'],
      [{ ...german, html: '<p>{{#inviter}}open section</p>' }, 'does not parse'],
      [{ ...german, html: '<p>{{{inviter}}}</p>' }, 'unescaped'],
      [{ ...german, text: '{{&link}}' }, 'unescaped'],
      [{ ...german, html: '{{> footer}}' }, 'partials'],
      [{ ...german, subject: '{{subject}}' }, 'itself'],
      [{ ...german, subject: '{{#inviter}}{{/inviter}}' }, 'empty'],
    ];
    for (const [body, message] of cases) {
      const response = await call('PUT', '/email-templates/invitation', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors[0].message).toContain(message);
    }
    for (const [url, body] of [
      ['/email-templates/invitation?locale=EN_us', german],
      ['/email-templates/invitation', { subject: 'only a subject' }],
      ['/email-templates/invitation', { ...german, extra: true }],
    ] as const) {
      expect((await call('PUT', url, body)).statusCode, url).toBe(400);
    }
    expect((await call('GET', '/email-templates/invitation')).json().data.subject).toBe(german.subject);
  });

  it('records changes in the audit trail', async () => {
    await call('PUT', '/email-templates/invitation?locale=de', german);
    await call('DELETE', '/email-templates/invitation?locale=de');
    const events = (await call('GET', '/audit?limit=2')).json().data as { event: string; details: object }[];
    expect(events.map((event) => event.event)).toEqual(['email_template.reset', 'email_template.updated']);
    expect(events[0]?.details).toEqual({ kind: 'invitation', locale: 'de' });
  });
});
