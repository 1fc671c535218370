// Projects in the browser: the sidebar, sections, the board with drag and drop,
// sharing with a second person in a second browser context, and what a viewer
// may not do. The real binary, a fresh data directory, headless Chromium.
import { after, before, describe, test } from 'node:test';
import { api, assert, eventually, launchBrowser, liveReady, newUser, startServer } from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function createProject(page, name) {
  const res = await api(page, 'POST', '/projects', { name, colour: 'blue' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function invite(owner, projectId, email, role) {
  await owner.goto(`${server.url}/projects/${projectId}/members`);
  await owner.getByLabel('E-mail of their account').fill(email);
  await owner.getByLabel('Role', { exact: true }).selectOption(role);
  await owner.getByRole('button', { name: 'Invite' }).click();
  await owner.locator('#member-list').getByText(email).first().waitFor();
}

const column = (page, name) => page.locator('.column', { has: page.locator('.column-h', { hasText: name }) });

describe('projects', () => {
  test('create a project from the sidebar, add sections and tasks, and ##Project in quick add', async () => {
    const { context, page } = await newUser(browser, server.url);
    await page.locator('#new-project summary').click();
    await page.getByLabel('Project name').fill('Garden');
    await page.getByLabel('Colour').selectOption('green');
    await page.getByRole('button', { name: 'Add project' }).click();
    await page.waitForURL(/\/projects\/[0-9a-f-]+$/);
    await page.getByRole('heading', { name: 'Garden' }).waitFor();
    assert.equal(await page.locator('#sidebar a[aria-current="page"]').innerText(), 'Garden');
    assert.ok(await page.locator('#sidebar a[aria-current="page"] .dot.c-green').count());

    await page.getByLabel('New section').fill('Spring');
    await page.getByRole('button', { name: 'Add section' }).click();
    await page.getByRole('heading', { name: /Spring/ }).waitFor();

    await liveReady(page);
    await page.locator('#quick').fill('Plant tulips tomorrow');
    await page.locator('#quick').press('Enter');
    const row = page.locator('#list-region li.task', { hasText: 'Plant tulips' });
    await row.waitFor();

    // From the all-tasks list, ##Garden puts the task in the project; #tag stays a tag.
    await page.goto(`${server.url}/`);
    await liveReady(page);
    await page.locator('#quick').fill('Buy seeds ##garden #shopping');
    await eventually(async () => assert.match(await page.locator('#quick-preview').innerText(), /Garden/));
    await page.locator('#quick').press('Enter');
    await eventually(async () => assert.equal(await page.locator('#quick').inputValue(), ''));
    await page.locator('#sidebar').getByRole('link', { name: 'Garden' }).click();
    const seeds = page.locator('#list-region li.task', { hasText: 'Buy seeds' });
    await seeds.waitFor();
    assert.equal(await seeds.locator('.tag').innerText(), '#shopping');
    assert.doesNotMatch(await seeds.locator('.task-title').innerText(), /##/);

    // An unknown project is a clear error, and nothing is created.
    await page.goto(`${server.url}/`);
    await page.locator('#quick').fill('Something ##nowhere');
    await page.locator('#quick').press('Enter');
    await eventually(async () => assert.match(await page.locator('#quick-preview').innerText(), /no project named “nowhere”/i));

    // Subtasks: added on the task page, shown indented with progress.
    await page.goto(`${server.url}/`);
    await page.locator('#sidebar').getByRole('link', { name: 'Garden' }).click();
    await page.locator('#list-region .task-title', { hasText: 'Plant tulips' }).click();
    await page.getByLabel('New subtask').fill('Dig holes');
    await page.getByRole('button', { name: 'Add subtask' }).click();
    await page.locator('#subtask-list .task-title', { hasText: 'Dig holes' }).waitFor();
    await page.getByLabel('New subtask').fill('Water');
    await page.getByRole('button', { name: 'Add subtask' }).click();
    await page.locator('#subtask-list .task-title', { hasText: 'Water' }).waitFor();
    await page.locator('#subtask-list li.task', { hasText: 'Dig holes' }).getByRole('button', { name: /Complete/ }).click();
    await eventually(async () => assert.equal(await page.locator('#sub-progress').innerText(), '1 of 2 done'));
    await page.getByRole('link', { name: 'Garden' }).first().click();
    const parent = page.locator('#list-region li.task', { has: page.locator('.task-title', { hasText: 'Plant tulips' }) });
    assert.equal(await parent.locator('.progress').innerText(), '1 of 2 done');
    const child = page.locator('#list-region li.task[data-depth="1"]', { hasText: 'Water' });
    assert.ok(await child.isVisible());
    await parent.getByRole('button', { name: 'Subtasks of Plant tulips' }).click();
    assert.ok(await child.isHidden(), 'collapsing hides the subtasks');
    await context.close();
  });

  test('drag a task across board columns and to the top; it stays after a reload', async () => {
    const { context, page } = await newUser(browser, server.url);
    const project = await createProject(page, 'Launch');
    for (const name of ['Doing', 'Done']) {
      assert.equal((await api(page, 'POST', `/projects/${project.id}/sections`, { name })).status, 201);
    }
    for (const title of ['Write copy', 'Pick a date']) {
      assert.equal((await api(page, 'POST', '/tasks', { title, project_id: project.id })).status, 201);
    }
    await page.goto(`${server.url}/projects/${project.id}?view=board`);
    await liveReady(page);
    const card = page.locator('.board-card', { hasText: 'Write copy' });
    // Grab it by its edge, as a person does (its middle holds the section list).
    await card.dragTo(column(page, 'Doing').locator('.cards'), { sourcePosition: { x: 4, y: 4 } });
    await column(page, 'Doing').locator('.board-card', { hasText: 'Write copy' }).waitFor();
    await eventually(async () => {
      const t = (await api(page, 'GET', '/tasks?project=' + project.id)).body.items.find((x) => x.title === 'Write copy');
      assert.ok(t.section_id);
    });
    // The keyboard way: the card's "Move to section" list.
    await page.reload();
    await column(page, 'Doing').locator('.board-card', { hasText: 'Write copy' }).waitFor();
    await page.getByLabel('Move “Write copy” to section').selectOption({ label: 'Done' });
    await column(page, 'Done').locator('.board-card', { hasText: 'Write copy' }).waitFor();
    await page.reload();
    await column(page, 'Done').locator('.board-card', { hasText: 'Write copy' }).waitFor();
    assert.equal(await column(page, 'Doing').locator('.board-card').count(), 0);

    // Dropping above another card orders it first.
    await page.locator('.board-card', { hasText: 'Pick a date' }).dragTo(column(page, 'Done').locator('.board-card', { hasText: 'Write copy' }), { sourcePosition: { x: 4, y: 4 }, targetPosition: { x: 10, y: 3 } });
    await eventually(async () => {
      assert.deepEqual(await column(page, 'Done').locator('.board-card .task-title').allTextContents(), ['Pick a date', 'Write copy']);
    });
    await page.reload();
    assert.deepEqual(await column(page, 'Done').locator('.board-card .task-title').allTextContents(), ['Pick a date', 'Write copy']);
    await context.close();
  });

  test('share a project: the invite names a missing account, and changes appear live for the other member', async () => {
    const a = await newUser(browser, server.url);
    const b = await newUser(browser, server.url);
    const project = await createProject(a.page, 'Household');

    await a.page.goto(`${server.url}/projects/${project.id}/members`);
    await a.page.getByLabel('E-mail of their account').fill('nobody-here@example.com');
    await a.page.getByRole('button', { name: 'Invite' }).click();
    await eventually(async () => assert.match(await a.page.locator('#invite-error').innerText(), /account/i));
    await invite(a.page, project.id, b.email, 'editor');

    // B sees the project in the sidebar, marked shared, without a reload.
    await eventually(async () => assert.ok(await b.page.locator('#sidebar a', { hasText: 'Household' }).count()));
    assert.ok(await b.page.locator('#sidebar a', { hasText: 'Household' }).locator('.shared').count());
    await b.page.locator('#sidebar').getByRole('link', { name: /Household/ }).click();
    await b.page.waitForURL(`${server.url}/projects/${project.id}`);
    await liveReady(b.page);

    await a.page.goto(`${server.url}/projects/${project.id}`);
    await liveReady(a.page);
    await a.page.locator('#quick').fill('Fix the tap');
    await a.page.locator('#quick').press('Enter');
    await b.page.locator('#list-region .task-title', { hasText: 'Fix the tap' }).waitFor();

    // Assigning to B shows B's initials on A's row and the task in B's "Assigned to me".
    // The task page's fields save once its script runs (the stream is its last step).
    await a.page.locator('#list-region .task-title', { hasText: 'Fix the tap' }).click();
    await a.page.waitForURL(/\/tasks\//);
    await liveReady(a.page);
    await a.page.getByLabel('Assignee').selectOption({ label: b.email });
    await eventually(async () => assert.match(await a.page.locator('#timeline').innerText(), /Assigned/));
    await b.page.locator('#sidebar').getByRole('link', { name: 'Assigned to me' }).click();
    await b.page.locator('#list-region .task-title', { hasText: 'Fix the tap' }).waitFor();
    await b.page.goBack();
    await liveReady(b.page);
    assert.ok(await b.page.locator('#list-region li.task', { hasText: 'Fix the tap' }).locator('.avatar').count());

    // A renames it; B's list follows live.
    await a.page.locator('#f-title').fill('Fix the kitchen tap');
    await a.page.locator('#f-title').press('Enter');
    await b.page.locator('#list-region .task-title', { hasText: 'Fix the kitchen tap' }).waitFor();
    await a.context.close();
    await b.context.close();
  });

  test('a viewer sees no controls, and a forced change is refused', async () => {
    const a = await newUser(browser, server.url);
    const v = await newUser(browser, server.url);
    const project = await createProject(a.page, 'Board minutes');
    const task = (await api(a.page, 'POST', '/tasks', { title: 'Read the minutes', project_id: project.id })).body;
    await invite(a.page, project.id, v.email, 'viewer');

    await v.page.goto(`${server.url}/projects/${project.id}`);
    await v.page.locator('#list-region .task-title', { hasText: 'Read the minutes' }).waitFor();
    assert.match(await v.page.locator('#project-role').innerText(), /viewer/);
    assert.equal(await v.page.locator('#quick').count(), 0, 'no quick add');
    assert.equal(await v.page.locator('#section-form').count(), 0, 'no new section');
    const row = v.page.locator('#list-region li.task', { hasText: 'Read the minutes' });
    assert.ok(await row.getByRole('button', { name: /Complete/ }).isDisabled());
    assert.equal(await row.locator('[data-action="delete"]').count(), 0);
    await v.page.goto(`${server.url}/projects/${project.id}?view=board`);
    assert.equal(await v.page.locator('.board-card[draggable="true"], .move-select').count(), 0);
    await v.page.goto(`${server.url}/projects/${project.id}/members`);
    assert.equal(await v.page.locator('#invite-form, [data-action="role"]').count(), 0);

    await v.page.goto(`${server.url}/tasks/${task.id}`);
    await v.page.locator('#readonly-notice').waitFor();
    assert.ok(await v.page.locator('#f-priority').isDisabled());
    assert.equal(await v.page.locator('#comment-form').count(), 0, 'a viewer does not comment');

    const forced = await api(v.page, 'PATCH', `/tasks/${task.id}`, { title: 'Mine now' });
    assert.equal(forced.status, 403);
    const quick = await v.page.request.post(`${server.url}/ui/quick`, { data: { text: 'Sneaky', project_id: project.id } });
    assert.equal(quick.status(), 403);
    assert.equal((await api(a.page, 'GET', `/tasks/${task.id}`)).body.title, 'Read the minutes');
    await a.context.close();
    await v.context.close();
  });

  test('the owner renames and archives a project, edits sections and a comment, and hands the project over', async () => {
    const a = await newUser(browser, server.url);
    const b = await newUser(browser, server.url);
    const project = await createProject(a.page, 'Trip');
    const section = (await api(a.page, 'POST', `/projects/${project.id}/sections`, { name: 'Ideas' })).body;
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const task = (await api(a.page, 'POST', '/tasks', { title: 'Book the ferry', project_id: project.id, section_id: section.id, due: tomorrow })).body;
    const member = await api(a.page, 'POST', `/projects/${project.id}/members`, { email: b.email, role: 'editor' });
    assert.equal(member.status, 201);
    assert.equal((await api(a.page, 'PATCH', `/tasks/${task.id}`, { assignee_id: member.body.user_id })).status, 200);

    // B's views across projects show the assignee's initials too.
    for (const path of ['/', '/upcoming']) {
      await b.page.goto(`${server.url}${path}`);
      assert.ok(await b.page.locator('#list-region li.task', { hasText: 'Book the ferry' }).locator('.avatar').count(), path);
    }

    // A section is renamed in place, then deleted: its task stays, in no section.
    await a.page.goto(`${server.url}/projects/${project.id}`);
    await a.page.getByRole('button', { name: 'Rename section Ideas' }).click();
    await a.page.getByLabel('Section name').fill('Plans');
    await a.page.getByLabel('Section name').press('Enter');
    await a.page.locator('.group-h', { hasText: 'Plans' }).waitFor();
    await a.page.getByRole('button', { name: 'Delete section Plans' }).click();
    await a.page.getByRole('button', { name: 'Delete section', exact: true }).click();
    await eventually(async () => assert.equal(await a.page.locator('.group-h', { hasText: 'Plans' }).count(), 0));
    await a.page.locator('#list-region .task-title', { hasText: 'Book the ferry' }).waitFor();
    assert.equal((await api(a.page, "GET", `/tasks/${task.id}`)).body.section_id, undefined, "in no section");

    // The activity page tells who did what, newest first.
    await a.page.getByRole('link', { name: 'Activity' }).click();
    await a.page.locator('#activity li', { hasText: 'Deleted the section' }).filter({ hasText: 'Plans' }).waitFor();
    const activity = await a.page.locator('#activity').innerText();
    assert.match(activity, new RegExp(`Added\\s+${b.email.replace(/[.+]/g, '\\$&')} \\(editor\\)\\s+by you`));
    assert.match(activity, /Assigned\s+Book the ferry\s+by you/);

    // Its author edits a comment.
    await api(a.page, 'POST', `/tasks/${task.id}/comments`, { body: 'Morning boat?' });
    await a.page.goto(`${server.url}/tasks/${task.id}`);
    await a.page.getByRole('button', { name: 'Edit this comment' }).click();
    await a.page.getByLabel('Edit comment').fill('The **evening** boat');
    await a.page.getByRole('button', { name: 'Save', exact: true }).click();
    await a.page.locator('#comment-list strong', { hasText: 'evening' }).waitFor();
    assert.match(await a.page.locator('#comment-list .comment-meta').innerText(), /edited/);

    // Settings: rename and recolour; the sidebar follows.
    await a.page.goto(`${server.url}/projects/${project.id}/members`);
    await a.page.getByLabel('Name', { exact: true }).fill('Summer trip');
    await a.page.locator('#ps-colour').selectOption('red');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await a.page.getByRole('heading', { name: 'Members of Summer trip' }).waitFor();
    assert.ok(await a.page.locator('#sidebar a', { hasText: 'Summer trip' }).locator('.dot.c-red').count());

    // Archived, it leaves the sidebar's projects for "Archived"; unarchived from its page, it comes back.
    await a.page.getByRole('button', { name: 'Archive', exact: true }).click();
    await a.page.locator('#archived-projects a', { hasText: 'Summer trip' }).waitFor();
    assert.equal(await a.page.locator('.nav-projects:not(#archived-projects *) a', { hasText: 'Summer trip' }).count(), 0);
    await a.page.locator('#archived-projects a', { hasText: 'Summer trip' }).click();
    await a.page.getByRole('button', { name: 'Unarchive' }).click();
    await a.page.locator('#archived-projects').waitFor({ state: 'detached' });
    await a.page.locator('#sidebar .nav-projects a', { hasText: 'Summer trip' }).waitFor();

    // Hand over to B: A stays as an editor, B now owns it and deletes it, keeping its tasks.
    await a.page.goto(`${server.url}/projects/${project.id}/members`);
    await a.page.getByRole('button', { name: `Make ${b.email} the owner` }).click();
    await a.page.getByRole('button', { name: 'Make owner', exact: true }).click();
    await eventually(async () => assert.equal((await api(b.page, 'GET', `/projects/${project.id}`)).body.role, 'owner'));
    await a.page.locator('#project-form').waitFor({ state: 'detached' });

    await b.page.goto(`${server.url}/projects/${project.id}/members`);
    await b.page.getByRole('button', { name: 'Delete project…' }).click();
    await b.page.getByRole('button', { name: 'Delete project', exact: true }).click();
    await b.page.waitForURL(`${server.url}/`);
    assert.equal((await api(b.page, 'GET', `/projects/${project.id}`)).status, 404);
    const moved = (await api(b.page, 'GET', `/tasks/${task.id}`)).body;
    assert.equal(moved.title, 'Book the ferry');
    assert.notEqual(moved.project_id, project.id);
    await a.context.close();
    await b.context.close();
  });

  test('a comment with a mention appears live for the other member, rendered safely', async () => {
    const a = await newUser(browser, server.url);
    const b = await newUser(browser, server.url);
    const project = await createProject(a.page, 'Party');
    const task = (await api(a.page, 'POST', '/tasks', { title: 'Book the hall', project_id: project.id })).body;
    await invite(a.page, project.id, b.email, 'editor');
    await b.page.goto(`${server.url}/tasks/${task.id}`);
    await liveReady(b.page);
    await b.page.getByText('No comments yet.').waitFor();

    await a.page.goto(`${server.url}/tasks/${task.id}`);
    const handle = b.email.split('@')[0];
    await a.page.getByLabel('New comment').fill(`Can you call them, @${handle}? **Friday** <script>alert(1)</script>`);
    await a.page.getByRole('button', { name: 'Comment', exact: true }).click();
    await a.page.locator('#comment-list .comment strong', { hasText: 'Friday' }).waitFor();

    // Bob's open page shows it without a reload, Markdown rendered and the script gone.
    const seen = b.page.locator('#comment-list .comment');
    await seen.locator('strong', { hasText: 'Friday' }).waitFor();
    assert.equal(await b.page.locator('#comment-list script').count(), 0);
    assert.match(await seen.locator('.comment-meta').innerText(), /·/);
    await eventually(async () => {
      const notes = (await api(b.page, 'GET', '/notifications')).body.items;
      assert.ok(notes.some((n) => n.kind === 'mention' && n.task_id === task.id), JSON.stringify(notes));
    });

    // Its author deletes it; it goes from both pages.
    await a.page.getByRole('button', { name: 'Delete this comment' }).click();
    await a.page.getByText('No comments yet.').waitFor();
    await b.page.getByText('No comments yet.').waitFor();
    await a.context.close();
    await b.context.close();
  });
});
