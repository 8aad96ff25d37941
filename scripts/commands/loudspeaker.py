"""The loudspeaker: speech text, a voice to listen to, a slot's programme, the as-run log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.clock import LOCAL_TZ, local_midnight, parse_local, parse_local_date, show
from scheduler.errors import InputError, RuleError
from scheduler.text import check_language, read_text_file
from scripts.commands.common import (
    ROW_ID,
    CchcGroup,
    Commands,
    fmt_option,
    with_app,
)
from scripts.output import table, to_json

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


@cli.command()
@click.argument("text", required=False)
@click.option("--file", "text_file", type=click.Path(dir_okay=False), help="Đọc văn bản từ tệp UTF-8.")
@click.option("--explain", is_flag=True, help="Liệt kê cả các chữ viết hoa chưa có trong từ điển viết tắt.")
@with_app(writes=False)
def speech(app: App, actor: Actor, text: str | None, text_file: str | None, explain: bool) -> None:
    """In ra văn bản mà giọng đọc sẽ đọc (ngày, số, số hiệu văn bản, chữ viết tắt đã viết ra đầy đủ)."""
    from channels.loudspeaker.speech import SpeechError, SpeechText

    content = read_text_file(text_file, "--file") if text_file else text
    if not content:
        raise InputError("TEXT", "hãy đưa văn bản cần đọc, ví dụ: cchc speech \"Ngày 01/8/2025, UBND xã...\"")
    lexicon = app.config.speech
    reader = SpeechText.from_config(lexicon)
    try:
        click.echo(reader.speak(content))
    except SpeechError as exc:
        raise InputError("TEXT", str(exc)) from None
    if explain:
        unknown = reader.unknown_abbreviations(content)
        if unknown:
            click.echo(f"\nChữ viết tắt chưa có trong từ điển (giọng đọc sẽ đánh vần từng chữ): {', '.join(unknown)}")
            click.echo("Thêm cách đọc vào config/speech.toml, mục [abbreviations], ví dụ:")
            for word in unknown[:3]:
                click.echo(f'  {word} = "..."')
        else:
            click.echo("\nMọi chữ viết tắt đều có trong từ điển.")


@cli.command()
@click.argument("announcement_id", type=ROW_ID, required=False, metavar="ID")
@click.option("--text", help="Đọc văn bản này thay cho một thông báo.")
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Tệp âm thanh ra (.mp3 hoặc .wav).")
@click.option("--channel", help="Kênh truyền thanh lấy thông số âm thanh (mặc định: kênh của đơn vị mình).")
@with_app(writes=False)
def render(app: App, actor: Actor, announcement_id: int | None, text: str | None, lang: str, out: Path,
           channel: str | None) -> None:
    """Nghe thử: đọc một thông báo hoặc một đoạn văn bản thành tệp âm thanh, cho biết giọng nào đã đọc."""
    from channels.loudspeaker.tts import NoVoice
    from scheduler import queries
    from scheduler.record.db import read_session

    check_language(lang)
    if (announcement_id is None) == (text is None):
        raise InputError("ID/--text", "hãy đưa mã thông báo HOẶC --text \"văn bản\" (chỉ một trong hai)")
    if out.suffix.lower() not in (".mp3", ".wav"):
        raise InputError("--out", "tên tệp ra phải kết thúc bằng .mp3 hoặc .wav")
    name = app.loudspeaker(channel, actor.scope)
    recording = None
    if announcement_id is not None:
        with read_session(app.ready_engine()) as session:
            actor.scope.item(app.config, queries.announcement(session, announcement_id))
            text, recording = queries.spoken_version(session, announcement_id, lang)
    try:
        clip = app.broadcaster().programmes.listen(name, text or "", lang, recording, out)
    except NoVoice as exc:
        raise InputError("--lang" if recording is None and lang != "vi" else "TEXT", str(exc)) from None
    click.echo(f"Giọng đọc: {clip.engine} ({clip.voice}){' [lấy từ bộ nhớ đệm]' if clip.cached else ''}")
    click.echo(f"Độ dài: {clip.duration_ms / 1000:.1f} giây -> {out}")
    if lang == "vi":
        click.echo(f"Văn bản được đọc: {clip.speech_text}")


@cli.command()
@click.option("--channel", help="Kênh truyền thanh (mặc định: kênh của đơn vị mình).")
@click.option("--slot", "slot_text", required=True, metavar='"YYYY-MM-DD HH:MM"', help="Khung giờ phát.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Ghi chương trình ra tệp MP3 này.")
@click.option("--build", is_flag=True,
              help="Dựng thật như dịch vụ sẽ làm trước giờ phát (ghi nhật ký, dời tin không vừa).")
@fmt_option
@with_app(writes=False)
def programme(app: App, actor: Actor, channel: str | None, slot_text: str, out: Path | None, build: bool,
              as_json: bool) -> None:
    """Xem trước (hoặc dựng) chương trình phát của một khung giờ: thứ tự, thời lượng, giọng đọc."""
    from scheduler import queries
    name = app.loudspeaker(channel, actor.scope)
    slot_at = parse_local(slot_text, "--slot")
    slots = app.channels[name].settings.slots
    if show(slot_at)[-5:] not in slots:
        raise InputError("--slot", f"{show(slot_at)[-5:]} không phải khung giờ của kênh {name}; "
                                   f"các khung giờ: {', '.join(slots)}")
    if out is not None and out.suffix.lower() != ".mp3":
        raise InputError("--out", "tên tệp ra phải kết thúc bằng .mp3")
    if build:  # building records the slot: not "as if it were another time" on real data
        app.refuse_trial_time()
        actor.scope.check_act(app.config, app.config.channels[name].unit, f"kênh {name}")
    broadcaster = app.broadcaster()
    if not build and out is None:
        out = app.settings.data_dir / "cache" / "preview" / f"{name}.mp3"
    from channels.loudspeaker.playout import PlayoutError

    try:
        prepared = broadcaster.programmes.prepare(name, slot_at, dry_run=not build, out=out)
    except PlayoutError as exc:  # e.g. --build for a slot that has already played
        raise RuleError(str(exc)) from None
    rows = [{"at": queries.minutes(p["start_ms"]), "ref": p["ref_code"], "lang": p["lang"], "engine": p["engine"],
             "length": queries.minutes(p["duration_ms"]), "lufs": p.get("lufs"), "title": p["title"]}
            for p in prepared.parts]
    if as_json:
        click.echo(to_json({"channel": name, "slot": show(slot_at), "length": queries.minutes(prepared.duration_ms),
                            "file": str(prepared.path or ""), "parts": rows, "notes": prepared.notes}))
        return
    click.echo(f"Chương trình {name} {show(slot_at)} ({'đã dựng' if build else 'xem trước'}): "
               f"{queries.minutes(prepared.duration_ms)}, {len(rows)} phần")
    if rows:
        click.echo(table(rows, ["at", "ref", "lang", "engine", "length", "lufs", "title"]))
        click.echo(f"Tệp: {prepared.path}")
    else:
        click.echo("Không có tin nào đến hạn trong khung giờ này.")
    for note in prepared.notes:
        click.echo(f"  - {note}")


@cli.command()
@click.option("--date", "date_text", metavar="YYYY-MM-DD", help="Ngày (mặc định: hôm nay).")
@click.option("--channel")
@fmt_option
@with_app(writes=False)
def asrun(app: App, actor: Actor, date_text: str | None, channel: str | None, as_json: bool) -> None:
    """Nhật ký phát thanh: từng khung giờ, giờ bắt đầu và kết thúc thực tế, tin và ngôn ngữ đã phát."""
    from scheduler import queries
    from scheduler.record.db import read_session
    day = parse_local_date(date_text, "--date") if date_text else app.now().astimezone(LOCAL_TZ).date()
    if channel:
        app.loudspeaker(channel, actor.scope)
    with read_session(app.ready_engine()) as session:
        rows = queries.as_run(session, since=local_midnight(day), until=local_midnight(day + timedelta(days=1)),
                              channel=channel,
                              channels=actor.scope.channels(app.config, loudspeaker=True) if actor.account else None)
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(f"Chưa có khung giờ nào trong nhật ký phát ngày {day:%d/%m/%Y}.")
        return
    click.echo(table(rows, ["slot", "channel", "kind", "status", "started", "ended", "delay_s", "length",
                            "played", "message"]))
    for row in rows:
        if row["parts"] or row["notes"]:
            click.echo(f"\n{row['slot']} {row['channel']}:")
        for part in row["parts"]:
            mark = "đã phát" if part["played"] else "chưa phát"
            click.echo(f"  {part['at']:>6} {part['ref']:<16} {part['lang']:<4} {part['engine']:<10} "
                       f"{part['length']:>6} {mark}  {part['title'][:50]}")
        for note in row["notes"]:
            click.echo(f"  - {note}")


@cli.group("station", cls=CchcGroup)
def station_group() -> None:
    """Âm thanh riêng của đài: nhạc hiệu, lời giới thiệu đài, lời kết (thay cho tiếng chuông và giọng đọc)."""


@station_group.command("list")
@click.option("--channel", help="Kênh truyền thanh (mặc định: mọi kênh truyền thanh).")
@fmt_option
@with_app(writes=False)
def station_list(app: App, actor: Actor, channel: str | None, as_json: bool) -> None:
    """Âm thanh của đài đang dùng cho từng kênh truyền thanh, và phần nào đang dùng mặc định."""
    from scheduler.loudspeaker import station
    from scheduler.record.db import read_session

    names = [app.loudspeaker(channel, actor.scope)] if channel else actor.scope.channels(app.config, loudspeaker=True)
    with read_session(app.ready_engine()) as session:
        parts = station.overview(session, app.config, names)
    rows = [{**row, "at": show(row["at"]) if row["at"] else ""} for row in parts]
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(table(rows, ["channel", "part", "lang", "source", "by", "at"],
                     headers={"part": "phần", "source": "nguồn", "by": "người tải lên", "at": "lúc"}))


@station_group.command("set")
@click.argument("kind", type=click.Choice(["jingle", "station_id", "outro"]))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn (nhạc hiệu không cần).")
@click.option("--channel", help="Kênh truyền thanh (mặc định: kênh của đơn vị mình).")
@with_app()
def station_set(app: App, actor: Actor, kind: str, file: Path, lang: str, channel: str | None) -> None:
    """Dùng bản ghi của đài cho nhạc hiệu (jingle), lời giới thiệu đài (station_id) hoặc lời kết (outro)."""
    from scheduler.loudspeaker import station
    from scheduler.record.db import write_session

    person = actor.person("station-sound")
    name = app.loudspeaker(channel, actor.scope)
    with write_session(app.ready_engine()) as session:
        row = station.store(session, app.config, app.settings.data_dir, channel=name, kind=kind, lang=lang,
                            source=file, actor=person, now=app.now())
    where = f" tiếng {row.lang}" if row.lang else ""
    click.echo(f"Đã đặt {station.KINDS[kind]}{where} của kênh {name}: {file.name}, {row.duration_ms / 1000:.1f} giây. "
               "Chương trình dựng từ bây giờ sẽ dùng bản ghi này.")


@station_group.command("clear")
@click.argument("kind", type=click.Choice(["jingle", "station_id", "outro"]))
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn (nhạc hiệu không cần).")
@click.option("--channel", help="Kênh truyền thanh (mặc định: kênh của đơn vị mình).")
@with_app()
def station_clear(app: App, actor: Actor, kind: str, lang: str, channel: str | None) -> None:
    """Bỏ bản ghi của đài, quay về mặc định (tiếng chuông tự tạo, giọng đọc lời trong cấu hình)."""
    from scheduler.loudspeaker import station
    from scheduler.record.db import write_session

    person = actor.person("station-sound")
    name = app.loudspeaker(channel, actor.scope)
    with write_session(app.ready_engine()) as session:
        gone = station.clear(session, app.config, channel=name, kind=kind, lang=lang, actor=person, now=app.now())
    click.echo(f"Đã bỏ {station.KINDS[kind]} riêng của kênh {name}; dùng mặc định." if gone
               else f"Kênh {name} chưa có {station.KINDS[kind]} riêng; vẫn dùng mặc định.")
