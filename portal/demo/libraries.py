"""The demo consortium's member libraries: planned in memory (systems with branches, a
university or two, standalone members of every type, each with a code), then written in
one bulk insert with the treebeard paths computed here, children in name order."""

from __future__ import annotations

import random
from decimal import Decimal

from django.utils.text import slugify

from portal.members.models import MemberLibrary

from . import (
    BRANCHES_OF_ACADEMIC,
    CONSORTIUM_NAME,
    COUNTIES,
    DEMO_DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    PALETTE,
    REGIONS,
    STREETS,
    SURNAMES,
    TOWNS,
)

Kind = MemberLibrary.Kind
Type = MemberLibrary.LibraryType


class Node:
    """A library to be created; paths and counts are filled in once the tree is complete."""

    def __init__(self, name, kind, library_type, parent=None, town="", size=1.0):
        self.name = name
        self.kind = kind
        self.library_type = library_type
        self.parent = parent
        self.children: list[Node] = []
        self.town = town
        self.size = size
        self.code = ""
        if parent is not None:
            parent.children.append(self)


def plan_tree(rng: random.Random, count: int) -> Node:
    """The consortium in memory: systems with branches, and standalone members."""
    root = Node(CONSORTIUM_NAME, Kind.CONSORTIUM, Type.PUBLIC)
    root.code = "ovlc"
    names: set[str] = {root.name}
    towns = TOWNS[:]
    rng.shuffle(towns)
    town_iter = iter(towns * (count // len(towns) + 2))

    def unique(name: str) -> str:
        candidate, n = name, 2
        while candidate in names:
            candidate = f"{name} ({n})"
            n += 1
        names.add(candidate)
        return candidate

    systems = max(1, count // 20) if count >= 4 else 0
    branches = round(count * 0.45) if systems else 0
    standalone = count - branches
    # One system in five is a university with its branch libraries.
    for i in range(systems):
        share = branches // systems + (1 if i < branches % systems else 0)
        if i % 5 == 1:
            university = f"{rng.choice(REGIONS)} University"
            system = Node(
                unique(f"{university} Libraries"), Kind.SYSTEM, Type.ACADEMIC, root, size=2
            )
            for j in range(share):
                town = "" if j < len(BRANCHES_OF_ACADEMIC) else next(town_iter)
                label = BRANCHES_OF_ACADEMIC[j] if not town else f"{town} Campus Library"
                Node(
                    unique(f"{system.name} — {label}"),
                    Kind.BRANCH,
                    Type.ACADEMIC,
                    system,
                    town=town,
                )
        else:
            if i % 2:
                region = f"{rng.choice(COUNTIES)} County"
                system_name = f"{region} District Library"
            else:
                region = rng.choice(REGIONS)
                system_name = f"{region} Library System"
            system = Node(unique(system_name), Kind.SYSTEM, Type.PUBLIC, root, size=3)
            for _ in range(share):
                town = next(town_iter)
                Node(
                    unique(f"{system.name} — {town} Branch"),
                    Kind.BRANCH,
                    Type.PUBLIC,
                    system,
                    town=town,
                    size=rng.choice((0.5, 1, 1, 2)),
                )
    for _ in range(standalone):
        town = next(town_iter)
        library_type, name, size = standalone_name(rng, town)
        Node(unique(name), Kind.LIBRARY, library_type, root, town=town, size=size)
    assign_codes(root)
    return root


def standalone_name(rng: random.Random, town: str) -> tuple[str, str, float]:
    roll = rng.random()
    if roll < 0.5:
        county = rng.choice(COUNTIES)
        return (
            Type.PUBLIC,
            rng.choice(
                [
                    f"{town} Public Library",
                    f"{county} County Public Library",
                    f"{town} Community Library",
                    f"{town} Carnegie Library",
                    f"{town} Memorial Library",
                ]
            ),
            rng.choice((1, 1.5, 2, 3)),
        )
    if roll < 0.72:
        return (
            Type.ACADEMIC,
            rng.choice(
                [
                    f"{town} Community College Library",
                    f"{rng.choice(SURNAMES)} College Library",
                    f"{town} State University Library",
                    f"{town} Technical College Learning Commons",
                ]
            ),
            1.5,
        )
    if roll < 0.9:
        return (
            Type.SCHOOL,
            rng.choice(
                [
                    f"{town} City Schools Library",
                    f"{town} Local Schools Media Center",
                    f"{town} High School Library",
                ]
            ),
            0.5,
        )
    county = rng.choice(COUNTIES)
    return (
        Type.SPECIAL,
        rng.choice(
            [
                f"{county} County Law Library",
                f"{town} Historical Society Research Library",
                f"{town} Medical Center Health Sciences Library",
                f"{town} Museum of Art Library",
            ]
        ),
        0.3,
    )


def assign_codes(root: Node) -> None:
    used = {root.code}

    def claim(code: str) -> str:
        code = code[:28].strip("-")
        candidate, n = code, 2
        while candidate in used:
            candidate = f"{code}{n}"
            n += 1
        used.add(candidate)
        return candidate

    def initials(name: str) -> str:
        skip = {"of", "the", "and", "—"}
        words = [w for w in name.replace(",", " ").split() if w.lower() not in skip]
        return "".join(w[0] for w in words if w[0].isalnum()).lower()

    for node in root.children:
        if node.kind == Kind.SYSTEM:
            node.code = claim(initials(node.name))
            for branch in node.children:
                tail = branch.town or branch.name.split(" — ")[-1]
                branch.code = claim(f"{node.code}-{slugify(tail)[:16]}")
        elif node.town and node.town in node.name:
            rest = initials(node.name.replace(node.town, ""))
            node.code = claim(f"{slugify(node.town)[:16]}-{rest}")
        else:
            node.code = claim(initials(node.name))


def create_libraries(rng: random.Random, count: int) -> list[MemberLibrary]:
    """Plan the tree and write it with computed treebeard paths, in one bulk insert;
    returns every node, root first."""
    root = plan_tree(rng, count)
    rows: list[MemberLibrary] = []

    def place(node: Node, path: str, depth: int) -> None:
        primary, secondary = rng.choice(PALETTE)
        domain = f"{node.code}.{DEMO_DOMAIN}"
        town = node.town or (node.parent.town if node.parent else "") or "Athens"
        children = sorted(node.children, key=lambda child: child.name)
        rows.append(
            MemberLibrary(
                path=path,
                depth=depth,
                numchild=len(children),
                name=node.name,
                code=node.code,
                kind=node.kind,
                library_type=node.library_type,
                vote_weight=vote_weight(node),
                shares_catalogue=node.kind != Kind.CONSORTIUM and rng.random() < 0.7,
                primary_colour=primary,
                secondary_colour=secondary,
                reply_to=f"info@{domain}",
                website=f"https://{domain}/",
                address=f"{rng.randint(10, 999)} {rng.choice(STREETS)} Street\n"
                f"{town}, OH 4{rng.randint(3000, 5999)}",
                phone=f"(740) 555-01{rng.randint(0, 99):02d}",
                contact_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                contact_email=f"director.{node.code}@{DEMO_DOMAIN}",
            )
        )
        # Children in name order, so the tree lists alphabetically.
        for position, child in enumerate(children, start=1):
            place(child, MemberLibrary._get_path(path, depth + 1, position), depth + 1)

    place(root, MemberLibrary._get_path(None, 1, 1), 1)
    return MemberLibrary.objects.bulk_create(rows, batch_size=1000)


def vote_weight(node: Node) -> Decimal:
    if node.kind == Kind.CONSORTIUM:
        return Decimal(0)
    return Decimal(str(node.size)).quantize(Decimal("0.001"))
